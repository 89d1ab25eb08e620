"""`survey` on a message: a rating question rendered with the user's traits, in-app only."""

from __future__ import annotations

from pathlib import Path

import pytest

from nudgeflow.rules import RulesetError
from tests.support.rules import Run, identify, ruleset_from, track

PLAYBOOK = """\
id: admins
name: Admins
milestones:
  - id: connect_source
    title: Connect a data source
    when: {event: Data Source Connected}
    celebrate:
      - channel: in_app
        title: "Connected"
        body: "Well done"
        survey: {question: "How easy was that, {{ user.first_name }}?", scale: 7, comment: false}
"""


def test_the_survey_question_is_rendered_for_the_user_and_travels_with_the_delivery(tmp_path: Path) -> None:
    run = Run(ruleset_from(tmp_path, PLAYBOOK))
    run.send(identify(first_name="Ana"))
    [delivery] = [d for d in run.send(track("Data Source Connected")) if d.type == "delivery"]
    assert delivery.survey.model_dump() == {"question": "How easy was that, Ana?", "scale": 7, "comment": False}


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ("channel: in_app", "milestones[0].celebrate[0]", "put it on an in_app message, not email"),
        ("scale: 7", "milestones[0].celebrate[0].survey.scale", "it must be at most 10"),
    ],
)
def test_a_survey_off_the_product_or_off_scale_names_line_and_field(
    tmp_path: Path, change: str, field: str, words: str
) -> None:
    replacement = {"channel: in_app": "channel: email", "scale: 7": "scale: 11"}[change]
    with pytest.raises(RulesetError) as info:
        ruleset_from(tmp_path, PLAYBOOK.replace(change, replacement))
    [problem] = info.value.problems
    assert problem.field == field and words in problem.message and problem.line >= 8
