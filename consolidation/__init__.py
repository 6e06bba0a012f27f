"""pytest-assetdb's library: consolidate a repository's SQLite databases, losslessly and under a size cap.

One module per capability; the ``assetdb`` command line (:mod:`consolidation.cli`) and
the pytest plugin (:mod:`pytest_assetdb`) are thin layers over these. This package never
imports pytest.
"""

from .errors import Aborted, AssetdbError, BadInput, CheckFailed
from .size import DEFAULT_SIZE_LIMIT, database_size, format_size, parse_size

__version__ = "0.2.0"

__all__ = [
    "Aborted",
    "AssetdbError",
    "BadInput",
    "CheckFailed",
    "DEFAULT_SIZE_LIMIT",
    "database_size",
    "format_size",
    "parse_size",
]
