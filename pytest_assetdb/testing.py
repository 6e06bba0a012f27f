"""Helpers for authors of plugins that extend ``pytest --assetdb`` (and for this
project's own tests): real SQLite files in a few lines, the gate run in-process, and a
zlib bomb for checking that a reader of a database bounds what it inflates.

Use them with pytest's ``pytester`` fixture::

    from pytest_assetdb.testing import make_database, run_gate

    def test_my_check(pytester):
        make_database(pytester.path / "databases" / "a.db", "CREATE TABLE t (x)")
        result = run_gate(pytester, "databases")
        result.assert_outcomes(passed=2)
"""

from __future__ import annotations

import sqlite3
import zlib
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


def zlib_bomb(size: int) -> bytes:
    """A valid zlib stream that inflates to ``size`` zero bytes (a whole number of MiB).

    Built from ``zlib.compressobj`` over zeros a mebibyte at a time: once the window is
    all zeros, every flushed block is the same, so a gigabyte's bomb (about 1 MB) takes
    milliseconds instead of compressing a gigabyte.
    """
    mebibyte = 2**20
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    zeros = bytes(mebibyte)
    first = compressor.compress(zeros) + compressor.flush(zlib.Z_SYNC_FLUSH)
    repeated = compressor.compress(zeros) + compressor.flush(zlib.Z_SYNC_FLUSH)
    body = first + repeated * (size // mebibyte - 1) + compressor.flush()
    adler = (size % 65521) << 16 | 1  # Adler-32 of zeros: its low half stays 1, the high half counts bytes
    return b"\x78\xda" + body + adler.to_bytes(4, "big")
