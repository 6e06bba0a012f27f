"""The phases of a consolidation: the one vocabulary the tool, its gate and its docs share.

A consolidation goes through these phases in order; the gate's checks belong to them (a
check of a later phase is gated by the earlier checks it depends on), and each step of
``assetdb consolidate`` does the work of one of them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Phase:
    number: int
    name: str
    does: str


PHASES: tuple[Phase, ...] = (
    Phase(0, "inventory", "which databases there are, how big, how sound"),
    Phase(1, "schema", "the unified schema of the consolidated set"),
    Phase(2, "migration", "every legacy row merged, folded as a duplicate or kept as a conflict"),
    Phase(3, "sync", "the workspace's files stored as assets, kept in step"),
    Phase(4, "documentation", "documentation deduplicated and stored"),
    Phase(5, "templates", "templates and patterns stored, rendered, counted"),
    Phase(6, "compliance", "every file under the cap, every proof passing"),
    Phase(7, "finalization", "proved sources archived, the database list kept true"),
)
PHASE_NAMES: tuple[str, ...] = tuple(phase.name for phase in PHASES)

#: The steps of ``assetdb consolidate``, in order, and the phase whose work each does.
STEPS: dict[str, str] = {
    "inventory": "inventory",
    "backup": "migration",
    "init": "schema",
    "migrate": "migration",
    "ingest": "sync",
    "documentation": "documentation",
    "verify": "compliance",
    "archive": "finalization",
    "list": "finalization",
}
