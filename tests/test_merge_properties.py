"""Seeded random legacy sets through the whole merge, round after round.

Each seed builds a few sources that share table names and keys, with every kind of key
SQLite has (an INTEGER PRIMARY KEY, one declared DESC or in a WITHOUT ROWID table, which
is not the rowid and may hold text and reals, the three in one set, text, text under NOCASE, composite, WITHOUT ROWID,
none), values of every storage class, holes in
the rowids and runs long enough to span several links; migrates them in a random order
under a random policy and cap; then changes some and migrates again. After every round
the set must verify against the live sources and against its own ledger, and every
source must rebuild to the same rows with the same storage classes (``sqldiff``, and a
typed comparison of our own, since ``sqldiff`` takes 1 and 1.0, and -0.0 and 0.0, for the same).

A handful of seeds run in the suite; ``ASSETDB_PROPERTY_SEEDS=500 make properties`` runs
many more.
"""

from __future__ import annotations

import os
import random
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from conftest import sqldiff
from consolidation.merge import ConflictPolicy, MigrationSettings, migrate
from consolidation.merge.accounting import record_conflicts, recount
from consolidation.proof import rebuild_source, verify_database
from consolidation.store import write_session
from consolidation.store.provenance import MAX_SPAN

SEEDS = range(int(os.environ.get("ASSETDB_PROPERTY_SEEDS", "18")))  # two of each kind of key

#: key kind -> (key columns, table constraint, table option)
KEYS = {
    "integer": ("k INTEGER PRIMARY KEY", "", ""),
    "integer_desc": ("k INTEGER PRIMARY KEY DESC", "", ""),
    "text": ("k TEXT PRIMARY KEY", "", ""),
    "nocase": ("k TEXT COLLATE NOCASE PRIMARY KEY", "", ""),
    "composite": ("k INTEGER, j TEXT", ", PRIMARY KEY (k, j)", ""),
    "without_rowid": ("k TEXT PRIMARY KEY", "", " WITHOUT ROWID"),
    "integer_without_rowid": ("k INTEGER PRIMARY KEY", "", " WITHOUT ROWID"),
    "keyless": ("k", "", ""),
}
#: Sources of one set whose keys are of different kinds: each source picks one of these.
MIXED_KEYS = {"integer_mixed": ("integer", "integer_desc", "integer_without_rowid")}


def _value(rng: random.Random):
    return rng.choice([None, 0, 1, -7, 2**62, 0.0, -0.0, 1.5, -2.25, "", "x", "1", "héllo", b"", b"\x00\x01", b"x"])


def _key(rng: random.Random, kind: str, number: int):
    if kind == "integer_desc" and rng.random() < 0.1:  # not the rowid: it may hold any value
        return rng.choice([f"k{number}", number + 0.5, None])
    if kind == "integer_without_rowid" and rng.random() < 0.1:  # nor here (but never NULL)
        return rng.choice([f"k{number}", number + 0.5])
    if kind in ("integer", "integer_desc", "integer_without_rowid", "keyless"):
        return number
    text = f"k{number:03d}"
    if kind == "nocase":
        return text.upper() if rng.random() < 0.5 else text
    if kind == "text" and rng.random() < 0.05:
        return None  # a rowid table's text key may be NULL: such a row has no key
    return text


def _write_source(path: Path, rng: random.Random, kind: str) -> None:
    path.unlink(missing_ok=True)
    kind = rng.choice(MIXED_KEYS[kind]) if kind in MIXED_KEYS else kind
    columns, constraint, option = KEYS[kind]
    with closing(sqlite3.connect(path)) as connection, connection:
        # drifting columns, spelled in either case (SQLite takes them for one) and one that
        # differs past ASCII ("é" and "É" are two columns to SQLite)
        extra = f", {rng.choice(['extra', 'EXTRA', 'é', 'É'])}" if rng.random() < 0.3 else ""
        connection.execute(f"CREATE TABLE t ({columns}, v, w{extra}{constraint}){option}")
        for number in sorted(rng.sample(range(1, 60), rng.randint(0, 30)), key=lambda _: rng.random()):
            key = [_key(rng, kind, number)] + ([rng.choice("ab")] if kind == "composite" else [])
            values = key + [_value(rng), _value(rng)] + ([_value(rng)] if extra else [])
            connection.execute(f"INSERT OR IGNORE INTO t VALUES ({', '.join('?' * len(values))})", values)
        first = rng.randint(1, 3 * MAX_SPAN)  # a run of consecutive keys, longer than one link holds
        connection.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, body TEXT)")
        connection.executemany("INSERT INTO runs VALUES (?, ?)",
                               [(i, rng.choice(["same", f"v{i}"])) for i in range(first, first + rng.randint(0, 3 * MAX_SPAN))])
        connection.execute("CREATE TABLE notes (a, b)")
        connection.executemany("INSERT INTO notes VALUES (?, ?)", [(_value(rng), _value(rng)) for _ in range(rng.randint(0, 6))])
        if rng.random() < 0.3:  # holes in the rowids
            connection.execute("DELETE FROM runs WHERE rowid % 3 = 0")
            connection.execute("DELETE FROM notes WHERE rowid % 2 = 0")


def _typed_rows(path: Path) -> dict[str, list[str]]:
    """Every row of every table with each value's storage class, as text that tells -0.0 from
    0.0: what sqldiff does not compare."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
        tables = [row[0] for row in connection.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite%' ORDER BY name")]
        found = {}
        for table in tables:
            columns = [row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')]
            typed = ", ".join(f'typeof("{c}"), "{c}"' for c in columns)
            found[table] = sorted(map(repr, connection.execute(f'SELECT {typed} FROM "{table}"')))
        return found


def _assert_ledger_shape(target: Path) -> None:
    """Links no longer than a span may be, never overlapping; and the books as a full recount
    from the links makes them (the merge recounts only the source tables a move touched)."""
    with closing(sqlite3.connect(target)) as connection:
        books = "SELECT id, rows_read, rows_stored, duplicates_folded, conflicts_kept FROM migration_table_accounting"
        kept = connection.execute(books).fetchall()
        connection.execute("SAVEPOINT recount")
        for (table,) in connection.execute("SELECT DISTINCT target_table FROM migration_table_accounting").fetchall():
            recount(connection, table)
        assert connection.execute(books).fetchall() == kept
        connection.execute("ROLLBACK TO recount")
        longest = connection.execute("SELECT coalesce(max(span), 0) FROM migration_row_links").fetchone()[0]
        assert longest <= MAX_SPAN
        overlapping = connection.execute(
            "SELECT count(*) FROM migration_row_links AS l WHERE l.span > 1 AND EXISTS (SELECT 1 FROM "
            "migration_row_links AS n WHERE n.table_id = l.table_id AND n.source_rowid > l.source_rowid "
            "AND n.source_rowid < l.source_rowid + l.span)").fetchone()[0]
        assert overlapping == 0


class _Undo(Exception):
    """Raised inside a write session to roll it back."""


def _assert_conflicts_list(target: Path, limit: int, policy: ConflictPolicy) -> None:
    """The conflicts list as a full rewrite from the links makes it (the merge lists only
    the keys a move took over)."""
    listed = ("SELECT kept_table_id, row_key, shown_source_id, kept_shard, kept_rowid "
              "FROM migration_conflict_entries")
    found = {}
    try:
        with write_session(target, limit, "checking the conflicts list") as session:
            connection = session.connection
            found["kept"] = sorted(connection.execute(listed).fetchall(), key=repr)
            for (table,) in connection.execute("SELECT DISTINCT target_table FROM migration_table_accounting").fetchall():
                record_conflicts(connection, session.shards, table, policy)
            found["rewritten"] = sorted(connection.execute(listed).fetchall(), key=repr)
            raise _Undo
    except _Undo:
        pass
    assert found["kept"] == found["rewritten"]


@pytest.mark.parametrize("seed", SEEDS)
def test_random_sets_verify_and_rebuild_exactly_round_after_round(tmp_path, seed):
    rng = random.Random(seed)
    kind = sorted([*KEYS, *MIXED_KEYS])[seed % (len(KEYS) + len(MIXED_KEYS))]
    sources = [tmp_path / "legacy" / f"s{index}.db" for index in range(rng.randint(2, 4))]
    sources[0].parent.mkdir()
    for path in sources:
        _write_source(path, rng, kind)
    policy = ConflictPolicy.parse(rng.choice(["first", "newest", f"source:{sources[-1].name}"]))
    limit = rng.choice([99_900_000, 256 * 1024])  # the small cap partitions the set into shards
    target = tmp_path / "set" / "enterprise_assets.db"
    target.parent.mkdir()
    for round_number in range(3):
        migrate(target, rng.sample(sources, len(sources)), MigrationSettings(limit, policy=policy),
                backup_directory=tmp_path / "backups")
        context = f"seed {seed}, {kind} keys, policy {policy}, cap {limit}, round {round_number}"
        live = verify_database(target, sources, limit)
        assert live.ok, (context, live.failures())
        ledger = verify_database(target, [], limit)
        assert ledger.ok, (context, ledger.failures())
        _assert_ledger_shape(target)
        _assert_conflicts_list(target, limit, policy)
        for path in sources:
            rebuilt = tmp_path / f"rebuilt-{round_number}-{path.name}"
            rebuild_source(target, path.name, rebuilt)
            assert sqldiff(path, rebuilt) == "", (context, path.name)
            assert _typed_rows(rebuilt) == _typed_rows(path), (context, path.name)
        for path in rng.sample(sources, rng.randint(1, len(sources))):
            _write_source(path, rng, kind)  # changed: its old rows go, its new ones come
