"""Deterministic generator of a large legacy set, for benchmarks.

Dozens of databases, about 250 MB and several hundred thousand rows in all, with the
mess the product exists for: same-named tables whose schemas drift (a column added here,
a type changed there), keys that collide across files with identical or different
content, the two unified tables in several shapes, and one source over the 99.9 MB cap.

Everything is computed from row numbers by SQL, never from a random source or the
clock, so two runs write the same rows. Usage: ``python bench/legacy_set.py DIR``.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path

SMALL_SOURCES = 29
SMALL_ROWS = 7_000
LARGE_ROWS = 150_000
PAYLOAD_BYTES = 600


def _sequence(first: int, count: int) -> str:
    return (
        f"WITH RECURSIVE n(i) AS (SELECT {first} UNION ALL SELECT i + 1 FROM n WHERE i < {first + count - 1}) "
    )


def _payload(expression: str) -> str:
    """Deterministic filler of about PAYLOAD_BYTES that still differs from row to row."""
    return f"printf('%d:', {expression}) || substr(hex(zeroblob({PAYLOAD_BYTES // 2})), 1, {PAYLOAD_BYTES - 12})"


def build_source(path: Path, index: int, rows: int) -> None:
    drift = index % 3  # three schema variants
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA journal_mode = OFF")
        connection.execute("PRAGMA synchronous = OFF")
        extra = ", extra TEXT" if drift == 1 else ""
        weight_type = "TEXT" if drift == 2 else "REAL"
        connection.execute(
            f"CREATE TABLE events (id INTEGER PRIMARY KEY, source TEXT, payload TEXT, weight {weight_type}{extra})"
        )
        extra_value = ", 'x' || i" if drift == 1 else ""
        weight = "printf('%.3f', i / 7.0)" if drift == 2 else "i / 7.0"
        # ids overlap between neighbouring files: identical rows every 10th id, different otherwise
        first = index * (rows // 2) + 1
        connection.execute(
            _sequence(first, rows)
            + f"INSERT INTO events SELECT i, CASE WHEN i % 10 = 0 THEN 'shared' ELSE 'file{index}' END, "
            f"{_payload('i')}, {weight}{extra_value} FROM n"
        )
        connection.execute("CREATE TABLE shared_patterns (pattern_id TEXT PRIMARY KEY, body TEXT, version INTEGER)")
        connection.execute(
            _sequence(1, 500)
            + "INSERT INTO shared_patterns SELECT 'pattern-' || i, "
            f"CASE WHEN i % 50 = {index % 50} THEN 'revised by file {index}' ELSE 'body ' || i END, 1 FROM n"
        )
        if index % 2:
            connection.execute(
                "CREATE TABLE enterprise_metadata (id INTEGER PRIMARY KEY, metadata_key TEXT, "
                "metadata_value TEXT, category TEXT, created_at TEXT)"
            )
            connection.execute(
                _sequence(1, 20)
                + f"INSERT INTO enterprise_metadata SELECT i, 'key' || i, 'value {index % 4}', 'bench', "
                "'2025-07-01' FROM n"
            )
        else:
            connection.execute(
                "CREATE TABLE integration_tracking (id INTEGER PRIMARY KEY AUTOINCREMENT, script_name TEXT NOT NULL, "
                "access_count INTEGER DEFAULT 1, performance_score REAL DEFAULT 100.0)"
            )
            connection.execute(
                _sequence(1, 50)
                + f"INSERT INTO integration_tracking (script_name, access_count) SELECT 'script' || i, {index} FROM n"
            )
        connection.execute("CREATE INDEX events_source ON events (source)")
        connection.commit()
    finally:
        connection.close()


def build_legacy_set(directory: Path, scale: float = 1.0) -> list[Path]:
    """The set, with every table's row count multiplied by ``scale`` (the same files
    otherwise), for measuring how time grows with rows."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(SMALL_SOURCES + 1):
        path = directory / (f"legacy_{index:02d}.db" if index else "legacy_big.db")
        if not path.exists():
            build_source(path, index, int((LARGE_ROWS if index == 0 else SMALL_ROWS) * scale))
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    arguments = parser.parse_args(argv)
    paths = build_legacy_set(arguments.directory)
    total = sum(path.stat().st_size for path in paths)
    print(f"{len(paths)} databases, {total / 1e6:.1f} MB in {arguments.directory}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
