"""Calls to action, links and images: checked at load with file/line/field, rendered from traits at send time."""

from __future__ import annotations

from pathlib import Path

import pytest

from nudgeflow.rules import RulesetError, load_ruleset
from nudgeflow.rules.experiments import apply_variant
from nudgeflow.rules.templates import url_problem
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
        title: "Welcome"
        body: "Next: connect a data source"
        cta:
          label: "Connect {{ user.first_name }}'s source"
          url: "%s"
"""


def _load(tmp_path: Path, url: str, extra: str = "") -> object:
    file = tmp_path / "pb.yaml"
    file.write_text(PLAYBOOK % url + extra)
    return load_ruleset(file)


def _problem(tmp_path: Path, url: str) -> object:
    with pytest.raises(RulesetError) as info:
        _load(tmp_path, url)
    [problem] = info.value.problems
    return problem


def test_javascript_url_is_rejected_with_file_line_and_field(tmp_path: Path) -> None:
    problem = _problem(tmp_path, "javascript:alert(document.cookie)")
    where = (Path(problem.file).name, problem.line, problem.field)
    assert where == ("pb.yaml", 13, "milestones[0].celebrate[0].cta.url")
    assert "'javascript:' links are not allowed" in problem.message and "http(s)" in problem.message


def test_url_without_scheme_suggests_adding_https(tmp_path: Path) -> None:
    problem = _problem(tmp_path, "app.example.com/sources/new")
    assert problem.field == "milestones[0].celebrate[0].cta.url"
    assert "add https://" in problem.message and "https://app.example.com/sources/new" in problem.message


def test_the_literal_prefix_of_a_templated_url_is_checked(tmp_path: Path) -> None:
    assert "'data:' links are not allowed" in _problem(tmp_path, "data:text/html,{{ user.id }}").message
    assert url_problem("https://app.example.com/sources/new?ws={{ user.workspace_id }}") is None
    assert url_problem("{{ user.home_url }}") is None  # checked when rendered


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("/sources/new", "relative link"),
        ("ftp://files.example.com/x", "'ftp:' links"),
        ("https://", "no host"),
        (" JavaScript:alert(1)", "'javascript:' links"),
    ],
)
def test_unsafe_or_unusable_urls(url: str, words: str) -> None:
    problem = url_problem(url)
    assert problem is not None and words in problem


def test_a_template_problem_in_a_link_label_names_its_field(tmp_path: Path) -> None:
    text = (PLAYBOOK % "https://x.example.com").replace("user.first_name", "usr.x")
    with pytest.raises(RulesetError) as info:
        ruleset_from(tmp_path, text)
    [problem] = info.value.problems
    assert problem.field == "milestones[0].celebrate[0].cta.label" and "did you mean 'user'" in problem.message


def test_secondary_cta_without_a_primary_is_an_error(tmp_path: Path) -> None:
    text = (PLAYBOOK % "https://x.example.com").replace("        cta:", "        secondary_cta:")
    with pytest.raises(RulesetError) as info:
        ruleset_from(tmp_path, text)
    assert any("secondary_cta needs a cta" in p.message for p in info.value.problems)


def test_too_many_links_is_an_error(tmp_path: Path) -> None:
    links = "".join(f"          - {{label: L{i}, url: 'https://x.example.com/{i}'}}\n" for i in range(6))
    with pytest.raises(RulesetError) as info:
        _load(tmp_path, "https://x.example.com", "        links:\n" + links)
    assert any(p.field == "milestones[0].celebrate[0].links" for p in info.value.problems)


MEDIA = """\
        secondary_cta: {label: "Book a call", url: "https://cal.example.com/{{ user.csm | default('team') }}"}
        links:
          - {label: "How to connect", url: "https://docs.example.com/sources"}
        image: {url: "https://cdn.example.com/sources.png", alt: "The sources page"}
"""


def test_templated_url_renders_from_traits_into_the_delivery(tmp_path: Path) -> None:
    ruleset = _load(tmp_path, "https://app.example.com/sources/new?ws={{ user.workspace_id }}", MEDIA)
    run = Run(ruleset)  # type: ignore[arg-type]
    run.send(identify(first_name="Ada", workspace_id="w-42"))
    [request] = [d for d in run.send(track("Logged In")) if d.type == "delivery"]
    assert request.cta.model_dump() == {
        "label": "Connect Ada's source",
        "url": "https://app.example.com/sources/new?ws=w-42",
    }
    assert request.secondary_cta.url == "https://cal.example.com/team"
    assert [link.url for link in request.links] == ["https://docs.example.com/sources"]
    assert request.image.alt == "The sources page"


def test_a_url_that_renders_to_another_scheme_is_suppressed_never_sent(tmp_path: Path) -> None:
    run = Run(_load(tmp_path, "{{ user.next_url }}"))  # type: ignore[arg-type]
    run.send(identify(first_name="Ada", next_url="javascript:alert(1)"))
    decisions = run.send(track("Logged In"))
    assert [d.type for d in decisions if d.type.startswith("delivery")] == ["delivery_suppressed"]
    [suppressed] = [d for d in decisions if d.type == "delivery_suppressed"]
    assert suppressed.reason == "template_error"
    assert "cta" in suppressed.detail and "not an absolute http(s) URL" in suppressed.detail


def test_a_missing_trait_in_a_url_is_suppressed(tmp_path: Path) -> None:
    run = Run(_load(tmp_path, "https://app.example.com/?ws={{ user.workspace_id }}"))  # type: ignore[arg-type]
    run.send(identify(first_name="Ada"))
    [suppressed] = [d for d in run.send(track("Logged In")) if d.type == "delivery_suppressed"]
    assert suppressed.reason == "template_error" and "workspace_id" in suppressed.detail


def test_an_experiment_variant_can_change_the_cta(tmp_path: Path) -> None:
    variant = """\
experiment:
  id: cta_test
  variants:
    - name: control
    - name: booking
      milestones:
        first_login:
          celebrate:
            - cta: {label: "Book onboarding", url: "https://cal.example.com/onboarding"}
"""
    ruleset = _load(tmp_path, "https://app.example.com/sources/new", variant)
    playbook = ruleset.playbooks[0]  # type: ignore[attr-defined]
    changed = apply_variant(playbook, playbook.experiment.variant("booking"))
    message = changed.milestones[0].celebrate[0]
    assert (message.cta.label, message.title) == ("Book onboarding", "Welcome")


def test_a_variant_cta_with_an_unsafe_url_is_rejected(tmp_path: Path) -> None:
    variant = """\
experiment:
  id: cta_test
  variants:
    - name: bad
      milestones:
        first_login:
          celebrate:
            - cta: {label: "x", url: "javascript:void(0)"}
"""
    with pytest.raises(RulesetError) as info:
        _load(tmp_path, "https://app.example.com/sources/new", variant)
    [problem] = info.value.problems
    assert problem.field == "experiment.variants[0].milestones.first_login.celebrate[0].cta.url"


def test_hot_reload_with_an_unsafe_cta_keeps_the_rules_in_force(tmp_path: Path) -> None:
    from nudgeflow.orchestrator.rules_holder import RulesHolder
    from tests.support.playbooks import onboarding_playbook

    folder = tmp_path / "playbooks"
    folder.mkdir()
    good = onboarding_playbook()
    (folder / "trial.yaml").write_text(good)
    holder = RulesHolder.from_path(folder)
    version, engine = holder.ruleset.version, holder.engine
    body = 'body: "{{ progress.done }} of {{ progress.total }}"'
    cta = body + ', cta: {label: "Go", url: "javascript:alert(1)"}'
    (folder / "trial.yaml").write_text(good.replace(body, cta, 1))
    assert holder.reload() is False
    assert holder.ruleset.version == version and holder.engine is engine
    fixed = cta.replace("javascript:alert(1)", "https://app.example.com/sources")
    (folder / "trial.yaml").write_text(good.replace(body, fixed, 1))
    assert holder.reload() is True
