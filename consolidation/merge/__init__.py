"""Phase 2, the merge: many legacy databases into the consolidated set, losing no row.

:func:`migrate` is the whole of it; the modules behind it plan each table, place its
rows, apply the conflict policy and keep the ledger exact.
"""

from .engine import MigrationSettings
from .outcome import MigrationReport, SourceOutcome, TableOutcome
from .policy import ConflictPolicy, conflict_resolver
from .run import migrate

__all__ = [
    "ConflictPolicy",
    "MigrationReport",
    "MigrationSettings",
    "SourceOutcome",
    "TableOutcome",
    "conflict_resolver",
    "migrate",
]
