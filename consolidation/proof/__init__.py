"""The proofs, independent of the code that wrote the rows and files.

Every source row accounted for (verify), every archived source rebuildable (rebuild),
every asset reproducible, and the conflicts listed side by side, all read from the
ledger and the stored data alone.
"""

from .conflicts import Conflict, list_conflicts
from .ledger import LedgerSource, LedgerTable, find_source, read_sources
from .rebuild import RebuildResult, rebuild_source
from .reproducible import (
    ReproducibilityReport,
    check_reproducible,
    workspace_kinds,
    workspace_listing,
)
from .verify import TableVerdict, VerifyReport, verify_database
from .whole import Proof, prove

__all__ = [
    "Conflict",
    "Proof",
    "LedgerSource",
    "LedgerTable",
    "RebuildResult",
    "ReproducibilityReport",
    "TableVerdict",
    "VerifyReport",
    "check_reproducible",
    "workspace_kinds",
    "workspace_listing",
    "find_source",
    "list_conflicts",
    "prove",
    "read_sources",
    "rebuild_source",
    "verify_database",
]
