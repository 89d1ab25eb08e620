"""A user's onboarding checklist, as `GET /v1/users/{id}/progress` serves it and the widget shows it.

Built from the user's stored progress and the playbooks in force (rules/checklist.py); read-only,
never stored. Compatibility as for every contract (docs/contracts.md): additive changes only.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from nudgeflow.rules.contracts.deliveries import RenderedLink
from nudgeflow.rules.contracts.versioning import SchemaVersion

VERSION = 1
StepState = Literal["done", "next", "todo", "locked"]


class ChecklistStep(BaseModel):
    milestone_id: str
    title: str
    state: StepState = Field(
        description="done; next (the first open step: the one to show a button for); todo (open, later on the "
        "ladder); locked (its `after` prerequisite is not done yet)."
    )
    completed_at: AwareDatetime | None = None
    unlocked_at: AwareDatetime | None = None
    locked_by: str | None = Field(default=None, description="With `locked`: the milestone that must be done first.")
    due_at: AwareDatetime | None = Field(
        default=None, description="When a stall rule expects this step done by (its clock started, not done yet)."
    )
    overdue: bool = False
    cta: RenderedLink | None = Field(default=None, description="The step's button, from the milestone's `cta`.")
    account_step: bool = Field(
        default=False, description="The account reaches this step, not the user alone (the milestone's `account`)."
    )
    your_part_done_at: AwareDatetime | None = Field(
        default=None,
        description="An account step the user did their part of (met `when`), while the account has not reached it.",
    )


class PlaybookChecklist(BaseModel):
    playbook_id: str
    name: str
    entered_at: AwareDatetime
    done: int
    total: int
    percent: int = Field(ge=0, le=100)
    next_milestone_id: str | None = None
    steps: list[ChecklistStep]


class UserChecklist(BaseModel):
    version: SchemaVersion = VERSION
    user_id: str
    as_of: AwareDatetime
    playbooks: list[PlaybookChecklist] = Field(description="Every playbook the user is in, in the playbooks' order.")
