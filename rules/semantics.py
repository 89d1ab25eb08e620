"""Checks pydantic cannot do alone: references between milestones, cycles, templates."""

from __future__ import annotations

from typing import Any

from nudgeflow.rules.experiments import apply_variant, find_stall
from nudgeflow.rules.messages import suggest
from nudgeflow.rules.problems import RuleProblem, dotted
from nudgeflow.rules.schema import HOLDOUT, SIGNUP, Link, Media, Message, Playbook
from nudgeflow.rules.templates import template_problems
from nudgeflow.rules.yamlsource import SourceDoc

Loc = tuple[Any, ...]


class _Report:
    def __init__(self, doc: SourceDoc, prefix: Loc):
        self.doc, self.prefix = doc, prefix
        self.items: list[RuleProblem] = []

    def add(self, loc: Loc, message: str, line_offset: int = 0) -> None:
        full = (*self.prefix, *loc)
        self.items.append(RuleProblem(self.doc.file, self.doc.line_of(full) + line_offset, dotted(full), message))


def _references(pb: Playbook, report: _Report) -> None:
    ids = [m.id for m in pb.milestones]
    seen: set[str] = set()
    for i, m in enumerate(pb.milestones):
        if m.id in seen:
            report.add(("milestones", i, "id"), f"milestone id '{m.id}' is used twice in this playbook")
        seen.add(m.id)

    def check(loc: Loc, ref: str | None) -> None:
        if ref is not None and ref not in ids:
            report.add(loc, f"unknown milestone '{ref}'{suggest(ref, ids)}")

    check(("first_value",), pb.first_value)
    if pb.experiment is not None:
        check(("experiment", "metric", "milestone"), pb.experiment.metric.milestone)
    for i, m in enumerate(pb.milestones):
        check(("milestones", i, "when", "after"), m.when.after)
        for j, target in enumerate(m.unlocks or []):
            check(("milestones", i, "unlocks", j), target)
    for i, stall in enumerate(pb.stalls):
        check(("stalls", i, "milestone"), stall.milestone)
        if not stall.of_is_event and stall.of != SIGNUP:
            if stall.of not in ids:
                report.add(
                    ("stalls", i, "of"),
                    f"unknown milestone '{stall.of}'{suggest(stall.of, ids)}; "
                    "use a milestone id, 'signup', or an event name like 'Report Created'",
                )
        if stall.of == stall.milestone:
            report.add(("stalls", i, "of"), "a milestone cannot stall on itself")
        if any(other.key == stall.key for other in pb.stalls[:i]):
            report.add(
                ("stalls", i),
                f"a stall rule for '{stall.milestone}' counted from '{stall.of}' "
                "already exists; merge their nudges into one rule",
            )


def _cycles(pb: Playbook, report: _Report) -> None:
    """`after` and explicit `unlocks` must not loop back (a → b → a)."""
    edges: dict[str, list[tuple[str, Loc]]] = {m.id: [] for m in pb.milestones}
    for i, m in enumerate(pb.milestones):
        if m.when.after in edges:
            edges[m.when.after].append((m.id, ("milestones", i, "when", "after")))
        for j, target in enumerate(m.unlocks or []):
            if target in edges:
                edges[m.id].append((target, ("milestones", i, "unlocks", j)))
    state: dict[str, int] = {}
    reported: set[frozenset[str]] = set()

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target, loc in edges[node]:
            if state.get(target) == 1:
                loop = [*trail[trail.index(target) :], target] if target in trail else [node, target]
                key = frozenset(loop)
                if key not in reported:
                    reported.add(key)
                    report.add(
                        loc,
                        "milestones wait on each other in a loop: "
                        + " → ".join(loop)
                        + "; nobody could ever complete them",
                    )
            elif target not in state:
                visit(target, [*trail, target])
        state[node] = 2

    for m in pb.milestones:
        if m.id not in state:
            visit(m.id, [m.id])


def _media_texts(base: Loc, media: Media) -> list[tuple[Loc, str | None]]:
    """The link labels and URLs of a message: templates like its title."""
    links: list[tuple[Loc, Link | None]] = [(("cta",), media.cta), (("secondary_cta",), media.secondary_cta)]
    links += [(("links", k), link) for k, link in enumerate(media.links or [])]
    texts: list[tuple[Loc, str | None]] = []
    for loc, link in links:
        if link is not None:
            texts += [((*base, *loc, "label"), link.label), ((*base, *loc, "url"), link.url)]
    if media.image is not None:
        texts += [((*base, "image", "url"), media.image.url), ((*base, "image", "alt"), media.image.alt)]
    return texts


def _message_texts(base: Loc, message: Message) -> list[tuple[Loc, str]]:
    """Every template of a message: title, body, links, and the same in each translation."""
    texts = [((*base, "title"), message.title), ((*base, "body"), message.body)]
    texts += [(loc, text) for loc, text in _media_texts(base, message) if text is not None]
    for tag, translation in (message.translations or {}).items():
        at = (*base, "translations", tag)
        texts += [((*at, name), text) for name in ("title", "body") if (text := getattr(translation, name))]
        texts += [(loc, text) for loc, text in _media_texts(at, translation) if text is not None]
    return texts


def _templates(pb: Playbook, report: _Report) -> None:
    texts: list[tuple[Loc, str]] = []
    for i, welcome in enumerate(pb.on_enter):
        texts += _message_texts(("on_enter", i), welcome)
    for i, m in enumerate(pb.milestones):
        if m.cta is not None:
            texts += [(("milestones", i, "cta", "label"), m.cta.label), (("milestones", i, "cta", "url"), m.cta.url)]
        for j, msg in enumerate(m.celebrate):
            texts += _message_texts(("milestones", i, "celebrate", j), msg)
        for j, nudge in enumerate(m.overdue):
            texts += _message_texts(("milestones", i, "overdue", j), nudge)
    for i, stall in enumerate(pb.stalls):
        for j, nudge in enumerate(stall.nudges):
            texts += _message_texts(("stalls", i, "nudges", j), nudge)
    for loc, text in texts:
        block = (*report.prefix, *loc) in report.doc.block_scalars
        for line, message in template_problems(text):
            report.add(loc, message, line_offset=(line - 1) + (1 if block else 0))


def _template_texts(report: _Report, texts: list[tuple[Loc, str | None]]) -> None:
    for loc, text in texts:
        if text is None:
            continue
        block = (*report.prefix, *loc) in report.doc.block_scalars
        for line, message in template_problems(text):
            report.add(loc, message, line_offset=(line - 1) + (1 if block else 0))


def _variant(pb: Playbook, k: int, report: _Report) -> None:
    """Every override must point at something the playbook has."""
    assert pb.experiment is not None
    variant = pb.experiment.variants[k]
    base: Loc = ("experiment", "variants", k)
    ids = [m.id for m in pb.milestones]
    texts: list[tuple[Loc, str | None]] = []
    if variant.order is not None:
        missing = [i for i in ids if i not in variant.order]
        unknown = [i for i in variant.order if i not in ids]
        twice = sorted({i for i in variant.order if variant.order.count(i) > 1})
        for j, ref in enumerate(variant.order):
            if ref in unknown:
                report.add((*base, "order", j), f"unknown milestone '{ref}'{suggest(ref, ids)}")
        if missing or twice:
            said = "; ".join(
                part
                for part in (
                    f"missing {', '.join(missing)}" if missing else "",
                    f"listed twice: {', '.join(twice)}" if twice else "",
                )
                if part
            )
            report.add((*base, "order"), f"order must list every milestone of the playbook once ({said})")
    for mid, override in variant.milestones.items():
        loc: Loc = (*base, "milestones", mid)
        milestone = pb.milestone(mid)
        if milestone is None:
            report.add(loc, f"unknown milestone '{mid}'{suggest(mid, ids)}")
            continue
        for j, message in enumerate(override.celebrate or []):
            if j >= len(milestone.celebrate):
                have = len(milestone.celebrate)
                report.add(
                    (*loc, "celebrate", j),
                    f"milestone '{mid}' has {have} celebrate message"
                    f"{'' if have == 1 else 's'}; a variant can only change the text of existing ones",
                )
            texts += [((*loc, "celebrate", j, "title"), message.title), ((*loc, "celebrate", j, "body"), message.body)]
            texts += _media_texts((*loc, "celebrate", j), message)
        for j, target in enumerate(override.unlocks or []):
            if target not in ids:
                report.add((*loc, "unlocks", j), f"unknown milestone '{target}'{suggest(target, ids)}")
    for i, change in enumerate(variant.stalls):
        loc = (*base, "stalls", i)
        found = find_stall(pb, change)
        if not found:
            rules = [s.key.replace("<-", " counted from ") for s in pb.stalls]
            report.add(
                loc,
                f"no stall rule for '{change.milestone}'"
                + (f" counted from '{change.of}'" if change.of else "")
                + (f"; the playbook has: {'; '.join(rules)}" if rules else "; the playbook has no stalls"),
            )
            continue
        if len(found) > 1:
            report.add(loc, f"'{change.milestone}' has {len(found)} stall rules: add `of:` to say which one")
            continue
        stall = pb.stalls[found[0]]
        for j, nudge in enumerate(change.nudges or []):
            if j >= len(stall.nudges):
                report.add(
                    (*loc, "nudges", j),
                    f"the stall rule for '{stall.milestone}' has {len(stall.nudges)} "
                    "nudge(s); a variant can only change existing ones",
                )
            texts += [((*loc, "nudges", j, "title"), nudge.title), ((*loc, "nudges", j, "body"), nudge.body)]
            texts += _media_texts((*loc, "nudges", j), nudge)
    _template_texts(report, texts)
    if variant.order is not None or any(o.unlocks is not None for o in variant.milestones.values()):
        loops = _Report(report.doc, ())
        _cycles(apply_variant(pb, variant), loops)
        for problem in loops.items:
            report.add(base, f"with this variant's order/unlocks, {problem.message}")


def _experiment(pb: Playbook, report: _Report) -> None:
    if pb.experiment is None:
        return
    seen: set[str] = set()
    for k, variant in enumerate(pb.experiment.variants):
        if variant.name == HOLDOUT:
            report.add(
                ("experiment", "variants", k, "name"),
                "'holdout' is reserved for held-out users; set `holdout:` on the experiment instead",
            )
        elif variant.name in seen:
            report.add(
                ("experiment", "variants", k, "name"), f"variant name '{variant.name}' is used twice in this experiment"
            )
        seen.add(variant.name)
        _variant(pb, k, report)


def playbook_problems(pb: Playbook, doc: SourceDoc, prefix: Loc = ()) -> list[RuleProblem]:
    report = _Report(doc, prefix)
    _references(pb, report)
    _cycles(pb, report)
    _templates(pb, report)
    _experiment(pb, report)
    return report.items
