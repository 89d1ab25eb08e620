"""Messages in the user's language: picked from the `locale` trait, checked at load like the text they replace."""

from __future__ import annotations

from pathlib import Path

import pytest

from nudgeflow.rules import RulesetError
from nudgeflow.rules.locales import pick_locale
from tests.support.rules import Run, identify, ruleset_from, track

PLAYBOOK = """\
id: everyone
name: For everyone
milestones:
  - id: first_login
    title: First login
    when: {event: Logged In}
    celebrate:
      - channel: in_app
        title: "Welcome, {{ user.first_name }}"
        body: "Next: connect a data source"
        cta: {label: "Connect a source", url: "https://app.example.com/sources/new"}
        translations:
          de:
            title: "Willkommen, {{ user.first_name }}"
            body: "Als Nächstes: eine Datenquelle verbinden"
            cta: {label: "Quelle verbinden", url: "https://app.example.com/de/sources/new"}
          pt-BR:
            title: "Bem-vindo, {{ user.first_name }}"
"""


def _celebration(tmp_path: Path, **traits: object) -> object:
    run = Run(ruleset_from(tmp_path, PLAYBOOK))
    run.send(identify(first_name="Ada", **traits))
    [request] = [d for d in run.send(track("Logged In")) if d.type == "delivery"]
    return request


@pytest.mark.parametrize(
    ("locale", "title", "chosen"),
    [
        ("de", "Willkommen, Ada", "de"),
        ("de-AT", "Willkommen, Ada", "de"),  # the language when the region has no text of its own
        ("DE_de", "Willkommen, Ada", "de"),
        ("pt-br", "Bem-vindo, Ada", "pt-BR"),
        ("fr", "Welcome, Ada", None),  # no French: the message's own text
        (None, "Welcome, Ada", None),
    ],
)
def test_the_users_locale_picks_the_translation(tmp_path: Path, locale: str | None, title: str, chosen: str) -> None:
    traits = {"locale": locale} if locale else {}
    request = _celebration(tmp_path, **traits)
    assert request.title == title  # type: ignore[attr-defined]
    assert request.data["locale"] == chosen  # type: ignore[attr-defined]


def test_a_translation_replaces_only_what_it_gives(tmp_path: Path) -> None:
    german = _celebration(tmp_path, locale="de")
    assert german.cta.model_dump() == {"label": "Quelle verbinden", "url": "https://app.example.com/de/sources/new"}  # type: ignore[attr-defined]
    brazilian = _celebration(tmp_path, locale="pt-BR")
    assert brazilian.body == "Next: connect a data source"  # type: ignore[attr-defined]
    assert brazilian.cta.label == "Connect a source"  # type: ignore[attr-defined]
    assert german.delivery_id == brazilian.delivery_id, "one message, whatever its language"  # type: ignore[attr-defined]


def test_a_bad_language_tag_names_file_line_and_field(tmp_path: Path) -> None:
    with pytest.raises(RulesetError) as info:
        ruleset_from(tmp_path, PLAYBOOK.replace("pt-BR:", "Portuguese (Brazil):"))
    [problem] = info.value.problems
    assert (problem.line, problem.field) == (12, "milestones[0].celebrate[0].translations")
    assert "'Portuguese (Brazil)' is not a language tag" in problem.message and "pt-BR" in problem.message


def test_a_template_mistake_in_a_translation_is_found_at_load(tmp_path: Path) -> None:
    with pytest.raises(RulesetError) as info:
        ruleset_from(tmp_path, PLAYBOOK.replace("Willkommen, {{ user.first_name }}", "Willkommen, {{ usr.name }}"))
    [problem] = info.value.problems
    assert problem.field == "milestones[0].celebrate[0].translations.de.title"
    assert problem.line == 14 and "did you mean 'user'" in problem.message


def test_an_unsafe_link_in_a_translation_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(RulesetError) as info:
        ruleset_from(tmp_path, PLAYBOOK.replace("https://app.example.com/de/sources/new", "javascript:alert(1)"))
    [problem] = info.value.problems
    assert problem.field == "milestones[0].celebrate[0].translations.de.cta.url"
    assert "'javascript:' links are not allowed" in problem.message


def test_pick_locale_matches_as_people_write_tags() -> None:
    assert pick_locale(["en", "de", "pt-BR"], " pt_br ") == "pt-BR"
    assert pick_locale(["pt-BR"], "pt") is None, "a region's text is not the language's default"
    assert pick_locale(["de"], 42) is None and pick_locale(["de"], "") is None
