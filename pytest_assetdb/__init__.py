"""pytest-assetdb's pytest plugin: ``pytest --assetdb databases/`` gates every SQLite database.

The plugin lives in :mod:`pytest_assetdb.plugin` (registered through the ``pytest11``
entry point); what it checks is computed by :mod:`consolidation`. For validation tests
of your own: the fixtures ``assetdb_limit``, ``assetdb_databases``,
``assetdb_consolidated`` and ``assetdb_workspace``, and the helpers below.
"""

from .assertions import assert_lossless, assert_reproducible, assert_under_limit
from .checks import CheckResult
from .gate import PHASES, Check, CheckContext
from .nodes import AssetdbNearCapWarning
from .report import DatabaseSummary

__all__ = [
    "PHASES",
    "AssetdbNearCapWarning",
    "Check",
    "CheckContext",
    "CheckResult",
    "DatabaseSummary",
    "assert_lossless",
    "assert_reproducible",
    "assert_under_limit",
]
