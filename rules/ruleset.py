"""The validated, versioned set of playbooks the engine runs."""

from __future__ import annotations

import hashlib
from functools import cached_property

from pydantic import BaseModel, ConfigDict

from nudgeflow.rules.schema import Playbook


def version_of(contents: list[tuple[str, bytes]]) -> str:
    """Short sha256 over (file name, bytes) pairs; the same files give the same version."""
    digest = hashlib.sha256()
    for name, data in sorted(contents):
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()[:12]


class Ruleset(BaseModel):
    """Immutable: reloading rules builds a new Ruleset (and a new Engine)."""

    model_config = ConfigDict(frozen=True)

    playbooks: tuple[Playbook, ...]
    version: str
    sources: tuple[str, ...] = ()

    @classmethod
    def empty(cls) -> Ruleset:
        return cls(playbooks=(), version=version_of([]), sources=())

    @cached_property
    def _by_id(self) -> dict[str, Playbook]:
        return {p.id: p for p in self.playbooks}

    def playbook(self, playbook_id: str) -> Playbook | None:
        return self._by_id.get(playbook_id)
