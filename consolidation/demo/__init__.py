"""The demo a new user runs first: a legacy repository shaped like the real ones, and the
README's workflow run on it. The data is deterministic from a seed."""

from .legacy import build_legacy_set
from .repository import (
    DemoRepository,
    build_demo_repository,
    lfs_pointer,
    write_files,
    write_wal_with_pending_rows,
)
from .rows import DEMO_DATABASES
from .tour import run_demo
from .workspace import build_demo_workspace

__all__ = [
    "DEMO_DATABASES",
    "DemoRepository",
    "build_demo_repository",
    "build_demo_workspace",
    "build_legacy_set",
    "lfs_pointer",
    "run_demo",
    "write_files",
    "write_wal_with_pending_rows",
]
