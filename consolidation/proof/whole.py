"""Everything ``assetdb verify`` proves of a consolidated set, in one call.

Every migrated row accounted for (live against the sources given, else the ledger),
every file under the cap, every asset regenerating to its hash — and, with a workspace,
every workspace file stored as it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..globs import Exclusions
from .reproducible import ReproducibilityReport, check_reproducible
from .verify import VerifyReport, verify_database


@dataclass(frozen=True)
class Proof:
    rows: VerifyReport
    assets: ReproducibilityReport

    @property
    def failures(self) -> list[str]:
        return self.rows.failures() + self.assets.problems

    @property
    def ok(self) -> bool:
        return not self.failures


def prove(
    database: Path | str,
    sources: Iterable[Path | str] = (),
    workspace: Path | None = None,
    limit: int | None = None,
    manager=None,
    track=lambda items: items,
    exclusions: Exclusions = Exclusions(),
) -> Proof:
    return Proof(
        verify_database(database, sources, limit, track),
        check_reproducible(database, workspace, manager=manager, exclusions=exclusions),
    )
