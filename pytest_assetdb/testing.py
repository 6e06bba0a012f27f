"""Helpers for authors of plugins that extend ``pytest --assetdb`` (and for this
project's own tests): real SQLite files in a few lines, and the gate run in-process.

Use them with pytest's ``pytester`` fixture::

    from pytest_assetdb.testing import make_database, run_gate

    def test_my_check(pytester):
        make_database(pytester.path / "databases" / "a.db", "CREATE TABLE t (x)")
        result = run_gate(pytester, "databases")
        result.assert_outcomes(passed=2)
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from consolidation.demo import build_legacy_set


def make_database(path: Path, *statements: str, wal: bool = False) -> Path:
    """Create a real SQLite file from SQL statements, committed and closed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path)
    try:
        if wal:
            connection.execute("PRAGMA journal_mode = WAL")
        for statement in statements:
            connection.execute(statement)
        connection.commit()
    finally:
        connection.close()
    return path


def legacy_set(directory: Path) -> list[Path]:
    """The demo legacy set (six small databases with a real project's mess)."""
    return build_legacy_set(directory)


def run_gate(pytester, *paths: str, args: tuple[str, ...] = ()):
    """``pytest --assetdb PATHS… ARGS…`` in-process, without pytest's cache."""
    return pytester.runpytest("--assetdb", *paths, "-p", "no:cacheprovider", *args)
