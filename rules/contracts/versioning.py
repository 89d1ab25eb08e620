"""The `version` field every topic record carries, and what a change to it means.

Compatibility rule (the same for every topic, see docs/contracts.md): `version` is the
record's schema *major* version. Within one major version changes are additive only (a new
optional field, a new kind in a union, a new enum value consumers may skip); consumers ignore
fields they do not know. Removing or renaming a field, changing its type or meaning, bumps the
version and goes to a new topic, or through a dual-read period in which consumers accept both
versions before producers switch.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

SchemaVersion = Annotated[
    int, Field(ge=1, description="Schema major version of this record: additive changes only within one version.")
]
