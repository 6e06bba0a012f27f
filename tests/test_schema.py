"""The unified schema initializer: created once, idempotent, refusing foreign files."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
from contextlib import closing

import pytest

from conftest import make_database, sqlite_shell, unwritable
from consolidation.errors import Aborted, BadInput
from consolidation.store import (
    APPLICATION_ID,
    ASSET_TABLES,
    SCHEMA_VERSION,
    connect_assetdb,
    initialize,
)
from consolidation.store.schema import EXPECTED_TABLES, EXPECTED_VIEWS

LIMIT = 99_900_000


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_init_creates_the_unified_schema(tmp_path):
    target = tmp_path / "enterprise_assets.db"
    result = initialize(target, LIMIT)
    assert result.action == "created" and result.size == target.stat().st_size
    connection = sqlite3.connect(target)
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}
    assert EXPECTED_TABLES <= tables
    assert set(ASSET_TABLES.values()) | {"enterprise_metadata", "integration_tracking", "sqlar"} <= tables
    assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert connection.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    log = connection.execute(
        "SELECT operation, status, counts, size_after, details FROM cross_database_sync_operations"
    ).fetchall()
    assert len(log) == 1
    operation, status, counts, size_after, details = log[0]
    assert (operation, status) == ("init", "ok")
    assert json.loads(counts) == {"tables_created": len(EXPECTED_TABLES | EXPECTED_VIEWS)}
    assert size_after == target.stat().st_size
    assert json.loads(details)["action"] == "created"


def test_init_twice_changes_nothing(tmp_path):
    target = tmp_path / "enterprise_assets.db"
    initialize(target, LIMIT)
    before = digest(target)
    assert initialize(target, LIMIT).action == "unchanged"
    assert digest(target) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["enterprise_assets.db"]


def test_init_repairs_a_dropped_table_and_logs_it(tmp_path):
    target = tmp_path / "enterprise_assets.db"
    initialize(target, LIMIT)
    connection = sqlite3.connect(target)
    connection.execute("DROP TABLE shard_manifest")
    connection.commit()
    assert initialize(target, LIMIT).action == "repaired"
    rows = connection.execute(
        "SELECT json_extract(details, '$.created') FROM cross_database_sync_operations ORDER BY id"
    ).fetchall()
    assert json.loads(rows[-1][0]) == ["shard_manifest"]


def test_init_fills_a_zero_byte_file(tmp_path):
    target = tmp_path / "new.db"
    target.touch()
    assert initialize(target, LIMIT).action == "created"


@pytest.mark.parametrize(
    ("prepare", "message"),
    [
        (lambda p: make_database(p, "CREATE TABLE customers (id)"), "another application's database"),
        (lambda p: p.write_text("hello\n" * 50), "not a SQLite database"),
    ],
    ids=["other-database", "text-file"],
)
def test_init_refuses_foreign_files_untouched(tmp_path, prepare, message):
    target = tmp_path / "target.db"
    prepare(target)
    before = digest(target)
    with pytest.raises(BadInput, match=message):
        initialize(target, LIMIT)
    assert digest(target) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["target.db"]


def test_init_refuses_a_newer_schema(tmp_path):
    target = tmp_path / "future.db"
    initialize(target, LIMIT)
    connection = sqlite3.connect(target)
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    connection.commit()
    before = digest(target)
    with pytest.raises(BadInput, match="newer"):
        initialize(target, LIMIT)
    assert digest(target) == before


@pytest.mark.parametrize("command", ["init", "migrate", "verify", "sync", "rebuild-source"])
def test_a_set_of_a_newer_schema_is_named_so_by_every_command(assetdb, tmp_path, command):
    """A later assetdb wrote it: every command says to upgrade (migrate called it "another
    application's database")."""
    source = make_database(tmp_path / "legacy" / "a.db", "CREATE TABLE t (id INTEGER PRIMARY KEY)",
                           "INSERT INTO t VALUES (1)")
    target = tmp_path / "enterprise_assets.db"
    assert assetdb("migrate", source, "--into", target).exit_code == 0
    with closing(sqlite3.connect(target)) as connection:
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    before = digest(target)
    arguments = {"init": [target], "migrate": [source, "--into", target], "verify": [target],
                 "sync": [tmp_path / "legacy", "--db", target], "rebuild-source": [target, "a.db", "--out", tmp_path / "r.db"]}
    refused = assetdb(command, *arguments[command])
    assert refused.exit_code == 2, refused.stderr
    assert refused.stderr.strip().splitlines() == [
        f"assetdb: error: {target}: schema version {SCHEMA_VERSION + 1} is newer than this assetdb understands "
        f"({SCHEMA_VERSION}); upgrade pytest-assetdb"]
    assert digest(target) == before


def test_init_over_the_cap_is_rolled_back_and_leaves_no_file(tmp_path):
    target = tmp_path / "small.db"
    with pytest.raises(Aborted, match="over the cap"):
        initialize(target, 50_000)
    assert list(tmp_path.iterdir()) == []


def test_init_over_the_cap_leaves_an_existing_empty_file_as_it_was(tmp_path):
    target = tmp_path / "small.db"
    target.touch()
    with pytest.raises(Aborted):
        initialize(target, 50_000)
    assert target.stat().st_size == 0
    assert [p.name for p in tmp_path.iterdir()] == ["small.db"]


def test_init_on_a_locked_target_aborts(tmp_path, writer_lock):
    target = tmp_path / "busy.db"
    target.touch()
    writer_lock(target)
    with pytest.raises(Aborted, match="locked"):
        initialize(target, LIMIT)


def test_init_into_a_missing_folder_is_bad_input(tmp_path):
    with pytest.raises(BadInput, match="no such directory"):
        initialize(tmp_path / "nope" / "x.db", LIMIT)


def test_connect_assetdb_refuses_other_databases(tmp_path):
    other = make_database(tmp_path / "other.db", "CREATE TABLE t (x)")
    with pytest.raises(BadInput, match="not an assetdb database"):
        connect_assetdb(other)
    with pytest.raises(BadInput, match="assetdb init"):
        connect_assetdb(tmp_path / "absent.db")


def test_cli_init_exit_codes(assetdb, tmp_path):
    target = tmp_path / "enterprise_assets.db"
    created = assetdb("init", target)
    assert created.exit_code == 0 and f"created schema v{SCHEMA_VERSION}" in created.stdout
    again = assetdb("init", target)
    assert again.exit_code == 0 and "nothing changed" in again.stdout
    capped = assetdb("init", tmp_path / "tiny.db", "--limit", "10KB")
    assert capped.exit_code == 3 and "over the cap" in capped.stderr
    other = make_database(tmp_path / "other.db", "CREATE TABLE t (x)")
    refused = assetdb("init", other)
    assert refused.exit_code == 2 and len(refused.stderr.strip().splitlines()) == 1


def test_sqlar_table_is_what_the_sqlite3_shell_extracts(tmp_path):
    """The stock shell must restore stored assets with no Python."""
    import zlib

    shell = sqlite_shell()
    target = tmp_path / "enterprise_assets.db"
    initialize(target, LIMIT)
    content = b"print('hello')\n" * 40
    connection = sqlite3.connect(target)
    connection.execute(
        "INSERT INTO sqlar (name, mode, mtime, sz, data) VALUES (?, ?, ?, ?, ?)",
        ("scripts/hello.py", 0o100644, 1_700_000_000, len(content), zlib.compress(content)),
    )
    connection.commit()
    connection.close()
    out = tmp_path / "out"
    out.mkdir()
    subprocess.run([shell, str(target), "-Ax"], cwd=out, check=True, capture_output=True)
    assert (out / "scripts" / "hello.py").read_bytes() == content
    assert (out / "scripts" / "hello.py").stat().st_mtime == 1_700_000_000


def test_a_new_database_appears_whole_or_not_at_all(tmp_path):
    target = tmp_path / "enterprise_assets.db"
    (tmp_path / ".enterprise_assets.db.initializing").write_bytes(b"left by a killed run")
    assert initialize(target, LIMIT).action == "created"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["enterprise_assets.db"]


V1_LINKS = """CREATE TABLE migration_row_links (
    table_id INTEGER NOT NULL REFERENCES migration_table_accounting (id) ON DELETE CASCADE,
    source_rowid INTEGER NOT NULL,
    shard INTEGER NOT NULL DEFAULT 1 CHECK (shard >= 1),
    target_rowid INTEGER NOT NULL,
    in_conflicts INTEGER NOT NULL CHECK (in_conflicts IN (0, 1)),
    PRIMARY KEY (table_id, source_rowid)
) WITHOUT ROWID"""


V1_CONFLICTS = """CREATE TABLE migration_conflicts (
    id INTEGER PRIMARY KEY,
    target_table TEXT NOT NULL,
    row_key TEXT NOT NULL CHECK (json_valid(row_key)),
    shown_source_id INTEGER REFERENCES migration_sources (id),
    kept_source_id INTEGER NOT NULL REFERENCES migration_sources (id) ON DELETE CASCADE,
    kept_table TEXT NOT NULL,
    kept_shard INTEGER NOT NULL DEFAULT 1,
    kept_rowid INTEGER NOT NULL,
    policy TEXT NOT NULL,
    recorded_at TEXT NOT NULL
)"""


def _rewrite_links(connection, definition: str, fill: str) -> None:
    """The links table as an older version made it (``definition``), filled by ``fill`` from
    today's, which it reads as ``links_before``."""
    connection.execute("ALTER TABLE migration_row_links RENAME TO links_before")
    connection.execute(definition)
    connection.execute(fill)
    connection.execute("DROP TABLE links_before")
    connection.execute("CREATE INDEX migration_row_links_target ON migration_row_links (target_rowid, shard, in_conflicts)")


def _as_version_1(target):
    """What version 1 wrote: one link per row, no span column, user_version 1."""
    connection = sqlite3.connect(target)
    with connection:
        _rewrite_links(connection, V1_LINKS,
                       "WITH RECURSIVE one(table_id, source_rowid, shard, target_rowid, in_conflicts, left) AS ("
                       "SELECT table_id, source_rowid, shard, target_rowid, in_conflicts, span FROM links_before "
                       "UNION ALL SELECT table_id, source_rowid + 1, shard, target_rowid + 1, in_conflicts, left - 1 "
                       "FROM one WHERE left > 1) INSERT INTO migration_row_links SELECT table_id, source_rowid, shard, "
                       "target_rowid, in_conflicts FROM one")
        connection.execute("CREATE TABLE conflicts_v1 AS SELECT * FROM migration_conflicts")
        connection.execute("DROP VIEW migration_conflicts")
        connection.execute("DROP TABLE migration_conflict_entries")
        connection.execute(V1_CONFLICTS)
        connection.execute("INSERT INTO migration_conflicts SELECT * FROM conflicts_v1")
        connection.execute("DROP TABLE conflicts_v1")
        connection.execute("PRAGMA user_version = 1")
    connection.close()


def test_a_version_1_set_is_refused_by_name_then_upgraded_in_place_by_init(assetdb, tmp_path):
    source = make_database(
        tmp_path / "legacy" / "old.db",
        "CREATE TABLE t (id INTEGER PRIMARY KEY, label TEXT)",
        "INSERT INTO t VALUES (1, 'one'), (2, 'two'), (3, 'three')",
    )
    other = make_database(
        tmp_path / "legacy" / "other.db",
        "CREATE TABLE t (id INTEGER PRIMARY KEY, label TEXT)",
        "INSERT INTO t VALUES (3, 'THREE'), (9, 'nine')",
    )
    target = tmp_path / "enterprise_assets.db"
    assert assetdb("migrate", source, other, "--into", target).exit_code == 0
    listed = "SELECT target_table, row_key, shown_source_id, kept_source_id, kept_table, kept_shard, kept_rowid, " \
             "policy, recorded_at FROM migration_conflicts"
    with closing(sqlite3.connect(target)) as connection:
        conflicts = connection.execute(listed).fetchall()
    assert len(conflicts) == 1
    _as_version_1(target)
    refused = assetdb("verify", target, "--sources", source)
    assert refused.exit_code == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert "schema version 1 is older" in refused.stderr and "assetdb init" in refused.stderr
    upgraded = assetdb("init", target)
    assert upgraded.exit_code == 0 and f"upgraded schema v{SCHEMA_VERSION}" in upgraded.stdout, upgraded.stdout
    connection = sqlite3.connect(target)
    assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert connection.execute("SELECT count(*), sum(span) FROM migration_row_links").fetchone() == (5, 5)
    assert connection.execute(listed).fetchall() == conflicts
    connection.close()
    assert assetdb("verify", target, "--sources", source, other).exit_code == 0
    rebuilt = tmp_path / "rebuilt.db"
    assert assetdb("rebuild-source", target, "old.db", "--out", rebuilt).exit_code == 0
    assert subprocess.run(["sqldiff", source, rebuilt], capture_output=True, text=True, check=True).stdout == ""
    again = sqlite3.connect(source)
    again.execute("INSERT INTO t VALUES (4, 'four')")
    again.commit()
    again.close()
    assert assetdb("migrate", source, "--into", target).exit_code == 0
    assert assetdb("verify", target, "--sources", source).exit_code == 0


def test_a_version_2_set_with_long_spans_is_cut_into_pieces_by_init(assetdb, tmp_path):
    from consolidation.store.provenance import MAX_SPAN

    rows = 5 * MAX_SPAN - 20
    source = make_database(
        tmp_path / "legacy" / "runs.db",
        "CREATE TABLE t (id INTEGER PRIMARY KEY, label TEXT)",
        f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows}) "
        "INSERT INTO t SELECT i, 'row ' || i FROM n",
    )
    target = tmp_path / "enterprise_assets.db"
    assert assetdb("migrate", source, "--into", target).exit_code == 0
    with closing(sqlite3.connect(target)) as connection:  # a fresh set never links more than MAX_SPAN rows at once
        assert connection.execute("SELECT count(*), max(span), sum(span) FROM migration_row_links").fetchone() == (
            5, MAX_SPAN, rows)
        with connection:  # what version 2 wrote: the whole run as one link
            connection.execute("DELETE FROM migration_row_links WHERE source_rowid > 1")
            connection.execute("UPDATE migration_row_links SET span = ?", (rows,))
            connection.execute("PRAGMA user_version = 2")
    refused = assetdb("verify", target)
    assert refused.exit_code == 2 and "schema version 2 is older" in refused.stderr, refused.stderr
    assert assetdb("init", target).exit_code == 0
    with closing(sqlite3.connect(target)) as connection:
        assert connection.execute("SELECT count(*), max(span), sum(span) FROM migration_row_links").fetchone() == (
            5, MAX_SPAN, rows)
    assert assetdb("verify", target, "--sources", source).exit_code == 0
    assert assetdb("verify", target).exit_code == 0
    rebuilt = tmp_path / "rebuilt.db"
    assert assetdb("rebuild-source", target, "runs.db", "--out", rebuilt).exit_code == 0
    assert subprocess.run(["sqldiff", source, rebuilt], capture_output=True, text=True, check=True).stdout == ""
    other = make_database(tmp_path / "legacy" / "other.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, label TEXT)",
                          f"INSERT INTO t VALUES ({rows - 1}, 'changed')")
    assert assetdb("migrate", other, "--into", target).exit_code == 0  # its shown row sits in the last piece
    with closing(sqlite3.connect(target)) as connection:
        shown = connection.execute("SELECT s.name FROM migration_conflicts AS c "
                                   "JOIN migration_sources AS s ON s.id = c.shown_source_id").fetchall()
    assert shown == [("runs.db",)]
    assert assetdb("verify", target, "--sources", source, other).exit_code == 0


def test_a_version_2_set_whose_links_overlap_is_refused_by_init_and_left_as_it_was(assetdb, tmp_path):
    """A development build of version 2 could write links that overlap: such a set cannot
    be cut into pieces in place (its pieces would collide), so init says so and writes nothing."""
    source = make_database(tmp_path / "legacy" / "desc.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, label TEXT)",
                           "INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd')")
    target = tmp_path / "enterprise_assets.db"
    assert assetdb("migrate", source, "--into", target).exit_code == 0
    with closing(sqlite3.connect(target)) as connection, connection:
        connection.execute("UPDATE migration_row_links SET span = 3")  # 1-3, as the bug wrote it
        connection.execute("INSERT INTO migration_row_links (table_id, source_rowid, shard, target_rowid, "
                           "in_conflicts, span) SELECT table_id, 2, shard, 2, 0, 1 FROM migration_row_links")
        connection.execute("PRAGMA user_version = 2")
    before = target.read_bytes()
    refused = assetdb("init", target)
    assert refused.exit_code == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert "provenance links overlap" in refused.stderr and "migrate its sources into a new" in refused.stderr
    assert target.read_bytes() == before


V3_LINKS = """CREATE TABLE migration_row_links (
    table_id INTEGER NOT NULL REFERENCES migration_table_accounting (id) ON DELETE CASCADE,
    source_rowid INTEGER NOT NULL,
    shard INTEGER NOT NULL DEFAULT 1 CHECK (shard >= 1),
    target_rowid INTEGER NOT NULL,
    in_conflicts INTEGER NOT NULL CHECK (in_conflicts IN (0, 1)),
    span INTEGER NOT NULL DEFAULT 1 CHECK (span >= 1 AND (span = 1 OR in_conflicts = 0)),
    PRIMARY KEY (table_id, source_rowid)
) WITHOUT ROWID"""


def _as_version_3(target):
    """What version 3 wrote: one link per kept version (its CHECK forbade runs of them)."""
    connection = sqlite3.connect(target)
    with connection:
        _rewrite_links(connection, V3_LINKS,
                       "WITH RECURSIVE one(table_id, source_rowid, shard, target_rowid, in_conflicts, span, k) AS ("
                       "SELECT table_id, source_rowid, shard, target_rowid, in_conflicts, span, 0 FROM links_before "
                       "UNION ALL SELECT table_id, source_rowid, shard, target_rowid, in_conflicts, span, k + 1 FROM one "
                       "WHERE in_conflicts = 1 AND k + 1 < span) INSERT INTO migration_row_links SELECT table_id, "
                       "source_rowid + k, shard, target_rowid + k, in_conflicts, "
                       "CASE WHEN in_conflicts THEN 1 ELSE span END FROM one")
        connection.execute("CREATE INDEX migration_row_spans ON migration_row_links (shard, target_rowid) WHERE span > 1")
        connection.execute("PRAGMA user_version = 3")
    connection.close()


def _kept_links(target) -> tuple[int, int]:
    """(links to kept versions, versions they cover)."""
    with closing(sqlite3.connect(target)) as connection:
        return connection.execute(
            "SELECT count(*), total(span) FROM migration_row_links WHERE in_conflicts = 1").fetchone()


def test_a_version_3_set_is_read_and_written_as_it_is_and_init_upgrades_it(assetdb, pytester, tmp_path):
    """A version-3 set needs no upgrade: it is verified, gated and migrated into, one link
    per version kept as its CHECK demands; init then lets links cover runs of them."""
    table = "CREATE TABLE t (id INTEGER PRIMARY KEY, label TEXT)"
    numbers = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300) "
    legacy = pytester.path / "databases"
    first = make_database(legacy / "first.db", table, numbers + "INSERT INTO t SELECT i, 'one ' || i FROM n")
    second = make_database(legacy / "second.db", table, numbers + "INSERT INTO t SELECT i, 'two ' || i FROM n")
    third = make_database(legacy / "third.db", table, numbers + "INSERT INTO t SELECT i, 'three ' || i FROM n")
    target = legacy / "enterprise_assets.db"
    assert assetdb("migrate", first, second, "--into", target).exit_code == 0
    assert _kept_links(target) == (5, 300)  # runs of at most 64 versions kept
    _as_version_3(target)
    assert _kept_links(target) == (300, 300)
    assert assetdb("verify", target, "--sources", first, second).exit_code == 0
    gate = pytester.runpytest_subprocess("--assetdb", "databases", "-p", "no:cacheprovider", "-k", "schema")
    gate.assert_outcomes(passed=1)
    assert assetdb("migrate", third, "--into", target).exit_code == 0
    with closing(sqlite3.connect(target)) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == 3
    assert _kept_links(target) == (600, 600)
    assert assetdb("verify", target, "--sources", first, second, third).exit_code == 0

    before = digest(target)
    no_room = assetdb("init", target, "--limit", str(target.stat().st_size))  # the upgrade copies the links
    assert no_room.exit_code == 3, no_room.stderr
    assert no_room.stderr.rstrip().endswith("rolled back; a version-3 set is read and written as it is, so it may "
                                             "stay so (or be upgraded under a larger --limit)"), no_room.stderr
    assert digest(target) == before
    upgraded = assetdb("init", target)
    assert upgraded.exit_code == 0 and f"upgraded schema v{SCHEMA_VERSION}" in upgraded.stdout, upgraded.stdout
    with closing(sqlite3.connect(target)) as connection:
        links = connection.execute("SELECT sql FROM sqlite_schema WHERE name = 'migration_row_links'").fetchone()[0]
        spans = connection.execute("SELECT sql FROM sqlite_schema WHERE name = 'migration_row_spans'").fetchone()[0]
    assert "in_conflicts = 0))" not in links and "in_conflicts = 0" in spans
    changed = sqlite3.connect(third)
    with changed:
        changed.execute("UPDATE t SET label = 'THREE ' || id")
    changed.close()
    assert assetdb("migrate", third, "--into", target).exit_code == 0  # taken out one link at a time, then again
    assert _kept_links(target) == (300 + 5, 600)
    assert assetdb("verify", target, "--sources", first, second, third).exit_code == 0
    for source in (first, second, third):
        rebuilt = tmp_path / f"rebuilt-{source.name}"
        assert assetdb("rebuild-source", target, source.name, "--out", rebuilt).exit_code == 0
        assert subprocess.run(["sqldiff", source, rebuilt], capture_output=True, text=True, check=True).stdout == ""


def test_the_gate_says_to_upgrade_the_tool_for_a_set_of_a_newer_schema(assetdb, pytester):
    source = make_database(pytester.path / "legacy" / "a.db", "CREATE TABLE t (id INTEGER PRIMARY KEY)",
                           "INSERT INTO t VALUES (1)")
    target = pytester.path / "databases" / "enterprise_assets.db"
    target.parent.mkdir()
    assert assetdb("migrate", source, "--into", target).exit_code == 0
    with closing(sqlite3.connect(target)) as connection:
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    result = pytester.runpytest_subprocess("--assetdb", "databases", "-p", "no:cacheprovider", "-rA")
    output = result.stdout.str()
    assert f"schema version {SCHEMA_VERSION + 1} is newer than this assetdb understands ({SCHEMA_VERSION})" in output
    assert "upgrade pytest-assetdb" in output and "assetdb init" not in output, output
    result.assert_outcomes(passed=2, failed=2)  # size and integrity hold; what reads the ledger says why it cannot


def test_a_version_3_set_grows_shards_of_its_own_version(tmp_path):
    """A shard a write adds to a version-3 set says version 3, as the rest of the set does."""
    from consolidation.merge import MigrationSettings, migrate

    def source(number):
        return make_database(tmp_path / "legacy" / f"s{number}.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)",
                             "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 150) "
                             f"INSERT INTO t SELECT i + {number * 1000}, randomblob(1000) FROM n")

    target = tmp_path / "enterprise_assets.db"
    migrate(target, [source(0), source(1)], MigrationSettings(400_000))
    _as_version_3(target)
    shards = sorted(tmp_path.glob("enterprise_assets.0*.db"))
    for shard in shards:
        with closing(sqlite3.connect(shard)) as connection:
            connection.execute("PRAGMA user_version = 3")
    migrate(target, [source(2), source(3)], MigrationSettings(400_000))
    grown = sorted(tmp_path.glob("enterprise_assets.0*.db"))
    assert len(grown) > len(shards)
    for shard in [target, *grown]:
        with closing(sqlite3.connect(shard)) as connection:
            assert connection.execute("PRAGMA user_version").fetchone()[0] == 3, shard.name


def test_init_of_a_complete_set_in_a_folder_that_takes_no_file_changes_nothing(assetdb, tmp_path):
    """A complete set needs no writer lock (a file beside it): init says so and writes nothing."""
    folder = tmp_path / "sets"
    folder.mkdir()
    target = folder / "enterprise_assets.db"
    initialize(target, LIMIT)
    before = digest(target)
    with unwritable(folder):
        result = assetdb("init", target)
        assert result.exit_code == 0, result.stderr
        assert result.stdout.strip() == f"{target}: already at schema v{SCHEMA_VERSION}; nothing changed"
    assert digest(target) == before and sorted(p.name for p in folder.iterdir()) == ["enterprise_assets.db"]
