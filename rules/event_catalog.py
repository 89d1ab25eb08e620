"""The product's event catalog, and the check of playbooks against it: a misspelled event or property
name otherwise passes silently and the step never completes.

A catalog is a YAML file the platform team keeps next to its tracking plan:

    events:
      - name: Data Source Connected
        description: A warehouse or app connector finished its first sync.
        properties: {status: string, source: string}

With a catalog, every event a playbook reads (`when.event`, a stall's `of` event) must be in it, and
every property a `where` filters on must be one of the event's properties (when it lists any). Without
one, an event name that is one typo away from another name the playbooks use is reported. Each problem
says file, line, field and the closest known name.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from nudgeflow.rules.messages import suggest
from nudgeflow.rules.problems import RuleProblem, dotted
from nudgeflow.rules.schema import Playbook
from nudgeflow.rules.yamlsource import SourceDoc, read_documents

Found = Iterable[tuple[Playbook, SourceDoc, tuple[Any, ...]]]
TYPO_CUTOFF = 0.9  # names this similar (one or two characters apart) are most likely one name misspelled
# Nudgeflow's own
BUILTIN_EVENTS = ("Prompt Seen", "Prompt Clicked", "Prompt Dismissed", "Prompt Archived", "Link Clicked")


class CatalogEvent(BaseModel):
    name: str = Field(min_length=1)
    description: str = ""
    properties: dict[str, str] = Field(default_factory=dict, description="Property name → type, as documentation.")


class EventCatalog(BaseModel):
    events: list[CatalogEvent] = Field(min_length=1)

    def names(self) -> list[str]:
        return [event.name for event in self.events]

    def event(self, name: str) -> CatalogEvent | None:
        return next((event for event in self.events if event.name == name), None)


def load_catalog(path: Path) -> tuple[EventCatalog | None, list[RuleProblem]]:
    """The catalog, or the problems that keep it from loading (file, line, field)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [RuleProblem(str(path), 0, "", f"cannot read the event catalog ({exc})")]
    docs, problems = read_documents(text, str(path))
    if problems:
        return None, problems
    if len(docs) != 1:
        return None, [RuleProblem(str(path), 1, "", "an event catalog is one YAML document with an `events` list")]
    doc = docs[0]
    try:
        return EventCatalog.model_validate(doc.data), []
    except ValidationError as exc:
        found = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            found.append(RuleProblem(str(path), doc.line_of(loc), dotted(loc), error["msg"]))
        return None, found


def event_problems(found: Found, catalog: EventCatalog | None) -> list[RuleProblem]:
    """Unknown events and properties (with a catalog), or likely typos among the playbooks' own names."""
    uses = list(_event_uses(found))
    if catalog is None:
        return _typos(uses)
    known = [*catalog.names(), *BUILTIN_EVENTS]
    problems = []
    for doc, loc, name, where in uses:
        event = catalog.event(name)
        if event is None and name not in BUILTIN_EVENTS:
            message = f"event '{name}' is not in the event catalog{suggest(name, known)}"
            problems.append(RuleProblem(doc.file, doc.line_of(loc), dotted(loc), message))
            continue
        if event is None or not event.properties:
            continue
        for prop in where:
            if prop not in event.properties:
                at = (*loc[:-1], "where", prop)
                message = f"'{name}' has no property '{prop}' in the catalog{suggest(prop, list(event.properties))}"
                problems.append(RuleProblem(doc.file, doc.line_of(at), dotted(at), message))
    return problems


def _event_uses(found: Found) -> Iterable[tuple[SourceDoc, tuple[Any, ...], str, list[str]]]:
    """(doc, path of the event name, the name, the `where` property names) of every event a rule reads."""
    for playbook, doc, prefix in found:
        for i, milestone in enumerate(playbook.milestones):
            where = [key for key in milestone.when.where if not key.startswith("$")]
            yield doc, (*prefix, "milestones", i, "when", "event"), milestone.when.event, where
        for i, stall in enumerate(playbook.stalls):
            if stall.of_is_event:
                yield doc, (*prefix, "stalls", i, "of"), stall.of, []


def _typos(uses: list[tuple[SourceDoc, tuple[Any, ...], str, list[str]]]) -> list[RuleProblem]:
    """Without a catalog: a name used once that is nearly a name used elsewhere is most likely misspelled."""
    counts: dict[str, int] = {}
    for _, _, name, _ in uses:
        counts[name] = counts.get(name, 0) + 1
    problems = []
    for doc, loc, name, _ in uses:
        # The rarer spelling is the suspect; of two used equally often, one of the pair is reported.
        others = [other for other in counts if (counts[other], other) > (counts[name], name)]
        close = difflib.get_close_matches(name, others, n=1, cutoff=TYPO_CUTOFF)
        if close:
            message = (
                f"event '{name}' looks like a misspelling of '{close[0]}', which other rules use "
                "(add an event catalog with --catalog to check names against your tracking plan)"
            )
            problems.append(RuleProblem(doc.file, doc.line_of(loc), dotted(loc), message))
    return problems
