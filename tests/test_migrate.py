"""The migration engine on real files: merge semantics, exact rebuilds, verification."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from conftest import folder_state, make_database, sqldiff, write_wal_with_pending_rows
from consolidation.demo import lfs_pointer
from consolidation.errors import Aborted, BadInput
from consolidation.hookspecs import hookimpl, plugin_manager
from consolidation.merge import (
    ConflictPolicy,
    MigrationSettings,
    conflict_resolver,
    migrate,
)
from consolidation.proof import rebuild_source, verify_database

LIMIT = 99_900_000


def settings(**overrides) -> MigrationSettings:
    return MigrationSettings(limit=overrides.pop("limit", LIMIT), **overrides)


def rows(database: Path, sql: str, *parameters) -> list[tuple]:
    connection = sqlite3.connect(database)
    try:
        return connection.execute(sql, parameters).fetchall()
    finally:
        connection.close()


def accounting(database: Path) -> dict[tuple[str, str], tuple[int, int, int, int]]:
    return {
        (source, table): tuple(counts)
        for source, table, *counts in rows(
            database,
            "SELECT s.name, a.source_table, a.rows_read, a.rows_stored, a.duplicates_folded, a.conflicts_kept "
            "FROM migration_table_accounting AS a JOIN migration_sources AS s ON s.id = a.source_id",
        )
    }


def assert_rebuilds_exactly(target: Path, sources: list[Path], out: Path) -> None:
    out.mkdir(exist_ok=True)
    for source in sources:
        rebuilt = out / f"rebuilt-{source.parent.name}-{source.name}"
        rebuild_source(target, source.name if len({s.name for s in sources}) == len(sources) else
                       f"{source.parent.name}/{source.name}", rebuilt)
        assert sqldiff(source, rebuilt) == "", source.name


def assert_verified(target: Path, sources: list[Path]) -> None:
    live = verify_database(target, sources, LIMIT)
    assert live.ok, live.failures()
    ledger = verify_database(target, [], LIMIT)
    assert ledger.ok, ledger.failures()


@pytest.fixture
def pair(tmp_path):
    """Two sources sharing table ``t``: an identical row, a conflicting row, drift."""
    a = make_database(
        tmp_path / "src" / "a.db",
        "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score REAL)",
        "INSERT INTO t VALUES (1, 'one', 1.5), (2, 'two', NULL), (3, 'three', 3.0)",
    )
    b = make_database(
        tmp_path / "src" / "b.db",
        "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, extra TEXT)",
        "INSERT INTO t VALUES (2, 'two', NULL), (3, 'THREE', NULL), (4, 'four', 'x')",
    )
    return a, b


def test_same_named_tables_merge_by_column_name(target, tmp_path, pair):
    report = migrate(target, list(pair), settings())
    assert [s.action for s in report.sources] == ["migrated", "migrated"]
    assert [row[1] for row in rows(target, "PRAGMA table_info(t)")] == ["id", "name", "score", "extra"]
    assert rows(target, "SELECT id, name, score, extra FROM t ORDER BY id") == [
        (1, "one", 1.5, None),
        (2, "two", None, None),
        (3, "three", 3.0, None),  # first source wins by default
        (4, "four", None, "x"),
    ]
    assert rows(target, "SELECT id, name FROM assetdb_conflicts_t") == [(3, "THREE")]
    assert accounting(target) == {("a.db", "t"): (3, 3, 0, 0), ("b.db", "t"): (3, 1, 1, 1)}
    [(table, key, shown, kept)] = rows(
        target,
        "SELECT c.target_table, c.row_key, s1.name, s2.name FROM migration_conflicts AS c "
        "JOIN migration_sources AS s1 ON s1.id = c.shown_source_id JOIN migration_sources AS s2 ON s2.id = c.kept_source_id",
    )
    assert (table, json.loads(key), shown, kept) == ("t", [3], "a.db", "b.db")
    assert_rebuilds_exactly(target, list(pair), tmp_path / "out")
    assert_verified(target, list(pair))


def test_sources_are_never_modified(target, tmp_path, pair):
    before = folder_state(tmp_path / "src")
    migrate(target, list(pair), settings())
    assert folder_state(tmp_path / "src") == before


def test_storage_classes_are_part_of_identity(target, tmp_path):
    a = make_database(tmp_path / "a.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v)", "INSERT INTO t VALUES (1, '1'), (2, 1), (3, x'01')")
    b = make_database(tmp_path / "b.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v)", "INSERT INTO t VALUES (1, 1), (2, 1.0), (3, x'01')")
    migrate(target, [a, b], settings())
    assert accounting(target)[("b.db", "t")] == (3, 0, 1, 2)
    assert rows(target, "SELECT id, typeof(v) FROM assetdb_conflicts_t ORDER BY id") == [(1, "integer"), (2, "real")]
    assert_rebuilds_exactly(target, [a, b], tmp_path / "out")


def test_drifting_affinity_widens_the_column_and_converts_nothing(target, tmp_path):
    a = make_database(tmp_path / "a.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)", "INSERT INTO t VALUES (1, 7)")
    b = make_database(tmp_path / "b.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)", "INSERT INTO t VALUES (2, '007'), (3, '1.50')")
    migrate(target, [a, b], settings())
    declared = {row[1]: row[2] for row in rows(target, "PRAGMA table_info(t)")}
    assert declared["v"] == ""
    assert rows(target, "SELECT id, v, typeof(v) FROM t ORDER BY id") == [(1, 7, "integer"), (2, "007", "text"), (3, "1.50", "text")]
    assert_rebuilds_exactly(target, [a, b], tmp_path / "out")
    assert_verified(target, [a, b])


def test_widening_a_table_does_not_meet_a_source_table_of_the_interim_s_name(target, tmp_path):
    """A table is widened by rebuilding it under another name first: no name a source table
    can merge under, so a source's own ``t__widening`` (the name that used to be taken) is
    not in the way."""
    a = make_database(tmp_path / "a.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v REAL)", "INSERT INTO t VALUES (1, 1.5)",
                      "CREATE TABLE t__widening (x)", "INSERT INTO t__widening VALUES (9)")
    b = make_database(tmp_path / "b.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)", "INSERT INTO t VALUES (2, '007')")
    migrate(target, [a, b], settings())
    assert rows(target, "SELECT id, v, typeof(v) FROM t ORDER BY id") == [(1, 1.5, "real"), (2, "007", "text")]
    assert rows(target, "SELECT x FROM t__widening") == [(9,)]
    assert_verified(target, [a, b])
    assert_rebuilds_exactly(target, [a, b], tmp_path / "out")


def test_a_key_kept_apart_for_its_integer_declaration_says_so(target, tmp_path):
    """``id INT PRIMARY KEY`` and ``id INTEGER PRIMARY KEY`` (the rowid): the reason named the
    same key on both sides, which read as a contradiction."""
    a = make_database(tmp_path / "a.db", "CREATE TABLE k (id INT PRIMARY KEY, v)", "INSERT INTO k VALUES (1, 'a')")
    b = make_database(tmp_path / "b.db", "CREATE TABLE k (id INTEGER PRIMARY KEY, v)", "INSERT INTO k VALUES (1, 'b')")
    report = migrate(target, [a, b], settings())
    assert report.sources[1].notes[0] == ("kept apart as 'b__k': primary key differs: (id) declared INTEGER here, "
                                          "(id) not declared INTEGER in the consolidated 'k'")
    assert_rebuilds_exactly(target, [a, b], tmp_path / "out")


def test_a_table_that_cannot_be_reconciled_is_kept_apart_with_a_reason(target, tmp_path):
    a = make_database(tmp_path / "a.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v)", "INSERT INTO t VALUES (1, 'a')")
    b = make_database(tmp_path / "b.db", "CREATE TABLE t (code TEXT PRIMARY KEY, v)", "INSERT INTO t VALUES ('k', 'b')")
    report = migrate(target, [a, b], settings())
    assert report.sources[1].tables[0].target_table == "b__t"
    assert "primary key differs" in report.sources[1].notes[0]
    assert rows(target, "SELECT code, v FROM b__t") == [("k", "b")]
    assert_rebuilds_exactly(target, [a, b], tmp_path / "out")


@pytest.mark.parametrize("kind", ["index", "view", "trigger"])
def test_a_table_named_like_a_carried_index_or_view_is_kept_apart(target, tmp_path, kind):
    """Tables, indexes, views and triggers share one namespace: a table whose name an
    earlier source's index, view or trigger already holds in the consolidated set cannot be
    created there (nor be taken for a table: a view has columns too; a trigger is out of
    the schema while rows move, its name taken all the same), so it is kept apart."""
    carried = {"index": "CREATE INDEX clash ON t (x)", "view": "CREATE VIEW clash AS SELECT x FROM t",
               "trigger": "CREATE TRIGGER clash AFTER INSERT ON t BEGIN SELECT 1; END"}[kind]
    first = make_database(tmp_path / "a.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, x)", "INSERT INTO t VALUES (1, 'a')",
                          carried)
    second = make_database(tmp_path / "b.db", "CREATE TABLE clash (x)", "INSERT INTO clash VALUES ('b')")
    report = migrate(target, [first, second], settings())
    assert report.sources[1].tables[0].target_table == "b__clash"
    assert f"the name is taken by the {kind} 'clash'" in report.sources[1].notes[0]
    assert rows(target, "SELECT x FROM b__clash") == [("b",)]
    assert rows(target, "SELECT type FROM sqlite_schema WHERE name = 'clash'") == [(kind,)]  # still in the set
    assert_verified(target, [first, second])
    assert_rebuilds_exactly(target, [first, second], tmp_path / "out")


@pytest.mark.parametrize("policy", ["first", "newest"])
def test_columns_named_like_the_merge_s_own_names_keep_their_values(target, tmp_path, policy):
    """The merge reads a source's rows with their identity beside their columns, and keeps
    its books in tables of its own: a column of the same name as any of those (here
    ``_identity`` and ``__identity`` above all: the alias once shadowed such a column, and
    its rows were stored with their rowids in it) keeps its values, whatever the key."""
    names = '"_identity", "__identity", "identity", "rank", "same", "shown_rowid", "kept_rowid", "span"'
    shapes = {
        "keyless": f"CREATE TABLE keyless ({names})",
        "keyed": f"CREATE TABLE keyed (k TEXT PRIMARY KEY, {names})",
        "narrow": f"CREATE TABLE narrow (k TEXT PRIMARY KEY, {names}) WITHOUT ROWID",
    }
    sources = []
    for index in range(2):
        statements = []
        for table, create in shapes.items():
            statements.append(create)
            for row in range(3):
                key = [] if table == "keyless" else [f"'k{row}'"]
                values = key + [str(row * 10 + index + column) for column in range(8)]
                statements.append(f"INSERT INTO {table} VALUES ({', '.join(values)})")
        sources.append(make_database(tmp_path / f"s{index}.db", *statements))
    migrate(target, sources, settings(policy=ConflictPolicy.parse(policy)))
    assert rows(target, 'SELECT "_identity", "__identity" FROM keyless ORDER BY rowid')[:3] == [(0, 1), (10, 11), (20, 21)]
    assert_verified(target, sources)
    assert_rebuilds_exactly(target, sources, tmp_path / "out")


def test_column_names_are_matched_as_sqlite_matches_them(target, tmp_path):
    """SQLite takes ASCII letters of a name in either case alike, and nothing else: "name"
    and "NAME" are one column, whose values a version taking over the shown row brings (they
    were overwritten with NULL), while "é" and "É" are two."""
    older = make_database(tmp_path / "a.db", 'CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, "é" TEXT)',
                          "INSERT INTO t VALUES (1, 'old', 'small')")
    newer = make_database(tmp_path / "b.db", 'CREATE TABLE t (id INTEGER PRIMARY KEY, NAME TEXT, "É" TEXT)',
                          "INSERT INTO t VALUES (1, 'new', 'CAPITAL')")
    os.utime(older, (1000, 1000))
    os.utime(newer, (2000, 2000))
    migrate(target, [older, newer], settings(policy=ConflictPolicy.parse("newest")))
    assert [row[1] for row in rows(target, "PRAGMA table_info(t)")] == ["id", "name", "é", "É"]
    assert rows(target, 'SELECT name, "é", "É" FROM t') == [("new", None, "CAPITAL")]
    assert_verified(target, [older, newer])
    assert_rebuilds_exactly(target, [older, newer], tmp_path / "out")


def test_awkward_identifiers_round_trip(target, tmp_path):
    quoted = '"we""ird; DROP TABLE t; --"'  # the table 'we"ird; DROP TABLE t; --'
    sources = [
        make_database(
            tmp_path / f"{name}.db",
            f'CREATE TABLE {quoted} ("select" INTEGER PRIMARY KEY, "naïve col" TEXT, "from" BLOB)',
            f"INSERT INTO {quoted} VALUES (1, 'ä', x'00'), ({2 + offset}, 'b', NULL)",
            'CREATE TABLE "order" ("group" TEXT)',
            f"INSERT INTO \"order\" VALUES ('{name}')",
        )
        for offset, name in enumerate(("first", "second"))
    ]
    migrate(target, sources, settings())
    assert rows(target, f"SELECT count(*) FROM {quoted}") == [(3,)]
    assert rows(target, 'SELECT "group" FROM "order" ORDER BY rowid') == [("first",), ("second",)]
    assert_rebuilds_exactly(target, sources, tmp_path / "out")
    assert_verified(target, sources)


def test_unusual_tables_rebuild_exactly(target, tmp_path):
    source = make_database(
        tmp_path / "odd.db",
        "CREATE TABLE nokey (a, b)",
        "INSERT INTO nokey VALUES (1, 'x'), (1, 'x'), (NULL, NULL)",
        "DELETE FROM nokey WHERE rowid = 1",  # a rowid gap
        "CREATE TABLE wr (k TEXT, n INTEGER, v, PRIMARY KEY (k, n)) WITHOUT ROWID",
        "INSERT INTO wr VALUES ('b', 2, 'x'), ('a', 1, x'ff00'), ('a', 2, 2.5)",
        "CREATE TABLE st (id INTEGER PRIMARY KEY, anything ANY, t TEXT) STRICT",
        "INSERT INTO st VALUES (1, '12', 'a'), (2, 12, 'b'), (3, 12.5, NULL), (4, x'12', 'c')",
        "CREATE TABLE gen (id INTEGER PRIMARY KEY, a INTEGER, doubled INTEGER GENERATED ALWAYS AS (a * 2) STORED)",
        "INSERT INTO gen (id, a) VALUES (1, 21)",
        "CREATE TABLE textkey (code TEXT PRIMARY KEY, v)",
        "INSERT INTO textkey VALUES ('z', 1), (NULL, 2), (NULL, 3)",
        "CREATE TABLE seq (id INTEGER PRIMARY KEY AUTOINCREMENT, v)",
        "INSERT INTO seq (v) VALUES ('a'), ('b')",
        "DELETE FROM seq WHERE id = 2",
        "CREATE INDEX nokey_a ON nokey (a DESC)",
        "CREATE VIEW doubled AS SELECT id, doubled FROM gen",
        "CREATE TABLE audit (what TEXT)",
        "CREATE TRIGGER gen_audit AFTER INSERT ON gen BEGIN INSERT INTO audit VALUES ('gen ' || new.id); END",
        "INSERT INTO gen (id, a) VALUES (2, 5)",
        "ANALYZE",
    )
    report = migrate(target, [source], settings())
    assert rows(target, "SELECT what FROM audit") == [("gen 2",)]  # the trigger did not fire on migration
    assert rows(target, "SELECT type FROM sqlite_schema WHERE name IN ('nokey_a', 'doubled', 'gen_audit') ORDER BY name") == [
        ("view",), ("trigger",), ("index",)  # the view reads the generated column's values, stored as data
    ]
    assert rows(target, "SELECT id, doubled, typeof(doubled) FROM gen ORDER BY id") == [(1, 42, "integer"),
                                                                                          (2, 10, "integer")]
    notes = " ".join(report.sources[0].notes)
    assert "generated column 'doubled' of 'gen': its values are stored as data, its rebuild computes them" in notes
    assert_rebuilds_exactly(target, [source], tmp_path / "out")
    assert_verified(target, [source])


@pytest.mark.parametrize("generated_first", [True, False], ids=["generated-first", "plain-first"])
def test_a_generated_column_meeting_a_plain_one_is_compared_by_its_values(target, tmp_path, generated_first):
    """A generated column's values are the source's rows as much as any other: against a
    plain column of the same name they fold when equal and are a conflict when not, and
    the merged table shows them; each source still rebuilds exactly (its own computed)."""
    generated = make_database(tmp_path / "gen.db", "CREATE TABLE g (id INTEGER PRIMARY KEY, a, s AS (a * 2) STORED)",
                              "INSERT INTO g (id, a) VALUES (1, 1), (2, 5)")
    plain = make_database(tmp_path / "plain.db", "CREATE TABLE g (id INTEGER PRIMARY KEY, a, s)",
                          "INSERT INTO g VALUES (1, 1, 2), (2, 5, 'zzz')")
    order = [generated, plain] if generated_first else [plain, generated]
    report = migrate(target, order, settings())
    by_name = {outcome.name: outcome.tables[0] for outcome in report.sources}
    later = by_name[order[1].name]
    assert (later.duplicates_folded, later.conflicts_kept) == (1, 1)  # row 1 the same, row 2 not
    shown = 10 if generated_first else "zzz"
    assert rows(target, "SELECT id, s FROM g ORDER BY id") == [(1, 2), (2, shown)]
    assert_verified(target, order)
    assert_rebuilds_exactly(target, order, tmp_path / "out")


def test_wal_source_rows_that_live_only_in_the_wal_are_migrated(target, tmp_path):
    source = write_wal_with_pending_rows(tmp_path / "src" / "wal.db", rows=6)
    before = folder_state(tmp_path / "src")
    migrate(target, [source], settings())
    assert rows(target, "SELECT count(*) FROM items") == [(6,)]
    assert folder_state(tmp_path / "src") == before
    assert_verified(target, [source])


def test_a_wal_source_rebuilds_as_a_wal_file(target, tmp_path):
    """Its header records WAL (bytes 18 and 19): the rebuilt file's did not, so an application
    counting on WAL got another file back. It is WAL again, with no -wal left beside it."""
    source = write_wal_with_pending_rows(tmp_path / "src" / "wal.db", rows=3)
    rollback = make_database(tmp_path / "src" / "plain.db", "CREATE TABLE t (x)", "INSERT INTO t VALUES (1)")
    migrate(target, [source, rollback], settings())
    for name, expected in (("wal.db", b"\x02\x02"), ("plain.db", b"\x01\x01")):
        rebuilt = tmp_path / f"rebuilt-{name}"
        rebuild_source(target, name, rebuilt)
        assert rebuilt.read_bytes()[18:20] == expected, name
        assert not Path(f"{rebuilt}-wal").exists() and not Path(f"{rebuilt}-shm").exists()
    assert sqldiff(source, tmp_path / "rebuilt-wal.db") == ""


def test_same_file_name_in_two_folders(target, tmp_path):
    first = make_database(tmp_path / "x" / "data.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v)", "INSERT INTO t VALUES (1, 'x')")
    second = make_database(tmp_path / "y" / "data.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v)", "INSERT INTO t VALUES (1, 'y')")
    report = migrate(target, [first, second], settings())
    assert [s.name for s in report.sources] == ["x/data.db", "y/data.db"]
    assert_rebuilds_exactly(target, [first, second], tmp_path / "out")
    with pytest.raises(BadInput, match="several sources"):
        rebuild_source(target, "data.db", tmp_path / "ambiguous.db")


def test_migrating_an_unchanged_source_again_changes_nothing(target, tmp_path, pair):
    migrate(target, list(pair), settings())
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    report = migrate(target, list(pair), settings(), backup_directory=tmp_path / "backups")
    assert [s.action for s in report.sources] == ["unchanged", "unchanged"]
    assert report.backup is None
    assert hashlib.sha256(target.read_bytes()).hexdigest() == digest


def test_a_changed_source_replaces_its_old_contribution(target, tmp_path, pair):
    a, b = pair
    migrate(target, [a, b], settings())
    connection = sqlite3.connect(b)
    connection.execute("UPDATE t SET name = 'FOUR' WHERE id = 4")
    connection.execute("DELETE FROM t WHERE id = 3")
    connection.commit()
    connection.close()
    report = migrate(target, [a, b], settings(), backup_directory=tmp_path / "backups")
    assert [s.action for s in report.sources] == ["unchanged", "remigrated"]
    assert report.backup and Path(report.backup).is_file()
    assert rows(target, "SELECT id, name FROM t ORDER BY id") == [(1, "one"), (2, "two"), (3, "three"), (4, "FOUR")]
    assert rows(target, "SELECT count(*) FROM assetdb_conflicts_t") == [(0,)]
    assert rows(target, "SELECT count(*) FROM migration_conflicts") == [(0,)]
    assert accounting(target)[("b.db", "t")] == (2, 1, 1, 0)
    assert_rebuilds_exactly(target, [a, b], tmp_path / "out")
    assert_verified(target, [a, b])


def test_removing_the_shown_version_promotes_the_kept_one(target, tmp_path, pair):
    a, b = pair
    migrate(target, [a, b], settings())
    connection = sqlite3.connect(a)
    connection.execute("DELETE FROM t WHERE id = 3")
    connection.commit()
    connection.close()
    migrate(target, [a], settings(), backup_directory=tmp_path / "backups")
    assert rows(target, "SELECT name FROM t WHERE id = 3") == [("THREE",)]
    assert rows(target, "SELECT count(*) FROM assetdb_conflicts_t") == [(0,)]
    assert_rebuilds_exactly(target, [a, b], tmp_path / "out")
    assert_verified(target, [a, b])


@pytest.mark.parametrize(
    ("policy", "shown"),
    [("first", "three"), ("source:b.db", "THREE"), ("newest", "THREE")],
)
def test_conflict_policy_chooses_the_shown_version_and_keeps_the_other(target, tmp_path, pair, policy, shown):
    a, b = pair
    import os

    os.utime(a, ns=(1_000_000_000, 1_000_000_000))  # a is older than b
    migrate(target, [a, b], settings(policy=ConflictPolicy.parse(policy)))
    assert rows(target, "SELECT name FROM t WHERE id = 3") == [(shown,)]
    kept = {"three", "THREE"} - {shown}
    assert rows(target, "SELECT name FROM assetdb_conflicts_t") == [(kept.pop(),)]
    read, stored, folded, conflicts = accounting(target)[("a.db", "t")]
    assert read == stored + folded + conflicts == 3
    assert_rebuilds_exactly(target, [a, b], tmp_path / "out")
    assert_verified(target, [a, b])


def test_a_run_of_stored_rows_is_one_link_and_breaks_where_a_shown_row_moves(target, tmp_path):
    a = make_database(
        tmp_path / "src" / "a.db",
        "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)",
        "INSERT INTO t VALUES " + ", ".join(f"({n}, 'a{n}')" for n in range(1, 7)),
    )
    b = make_database(
        tmp_path / "src" / "b.db",
        "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)",
        "INSERT INTO t VALUES (3, 'b3'), (5, 'b5')",
    )
    migrate(target, [a], settings())
    links = "SELECT source_rowid, target_rowid, in_conflicts, span FROM migration_row_links WHERE table_id = ? ORDER BY 1"
    a_table = rows(target, "SELECT id FROM migration_table_accounting WHERE source_table = 't'")[0][0]
    assert rows(target, links, a_table) == [(1, 1, 0, 6)]
    migrate(target, [a, b], settings(policy=ConflictPolicy.parse("source:b.db")))
    assert rows(target, links, a_table) == [(1, 1, 0, 1), (2, 2, 0, 1), (3, 1, 1, 1), (4, 4, 0, 1), (5, 2, 1, 1),
                                            (6, 6, 0, 1)]
    assert accounting(target)[("a.db", "t")] == (6, 4, 0, 2)
    assert accounting(target)[("b.db", "t")] == (2, 2, 0, 0)
    assert rows(target, "SELECT name FROM t ORDER BY id") == [("a1",), ("a2",), ("b3",), ("a4",), ("b5",), ("a6",)]
    assert_rebuilds_exactly(target, [a, b], tmp_path / "out")
    assert_verified(target, [a, b])
    b.unlink()
    make_database(b, "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)", "INSERT INTO t VALUES (7, 'b7')")
    migrate(target, [a, b], settings(policy=ConflictPolicy.parse("source:b.db")))
    assert rows(target, "SELECT name FROM t ORDER BY id") == [(f"a{n}",) for n in range(1, 7)] + [("b7",)]
    assert accounting(target)[("a.db", "t")] == (6, 6, 0, 0)
    assert_rebuilds_exactly(target, [a, b], tmp_path / "out2")
    assert_verified(target, [a, b])


def test_a_plugin_can_resolve_conflicts_for_a_table(target, tmp_path, pair):
    class PreferUppercase:
        @hookimpl
        def assetdb_resolve_conflict(self, table, key, shown, incoming, shown_source, incoming_source):
            if table == "t":
                return "incoming" if incoming["name"].isupper() else "shown"
            return None

    manager = plugin_manager(load_entry_points=False)
    manager.register(PreferUppercase())
    migrate(target, list(pair), settings(resolver=conflict_resolver(manager)))
    assert rows(target, "SELECT name FROM t WHERE id = 3") == [("THREE",)]
    assert_verified(target, list(pair))


@pytest.mark.parametrize("policy", ["loudest", "", " ", "source:"])
def test_bad_policy_is_bad_input(policy):
    with pytest.raises(BadInput, match="invalid conflict policy"):
        ConflictPolicy.parse(policy)


def test_a_preferred_source_no_source_is_named_is_refused_before_anything_is_written(target, pair, tmp_path):
    with pytest.raises(BadInput, match=r"--prefer source:typo\.db: no source of that name \(sources: a\.db, b\.db\)"):
        migrate(target, list(pair), settings(policy=ConflictPolicy.parse("source:typo.db")))
    assert not target.exists()
    migrate(target, [pair[0]], settings())
    migrate(target, [pair[1]], settings(policy=ConflictPolicy.parse("source:a.db")),  # a source of the set
            backup_directory=tmp_path / "backups")
    assert rows(target, "SELECT name FROM t WHERE id = 3") == [("three",)]


def _with_a_schema_not_in_utf8(path):
    """A declaration holding a Latin-1 byte: SQLite stores the schema's text as given."""
    subprocess.run(["sqlite3", str(path)], check=True,
                   input=b"CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT DEFAULT 'caf\xe9'); INSERT INTO t (id) VALUES (1);")


def _with_an_applications_collation(path):
    """A table declared with a collation only its application registers."""
    connection = sqlite3.connect(path)
    connection.create_collation("by_length", lambda a, b: len(a) - len(b))
    connection.execute("CREATE TABLE words (id INTEGER PRIMARY KEY, word TEXT COLLATE by_length)")
    connection.execute("INSERT INTO words VALUES (1, 'kept')")
    connection.commit()
    connection.close()


@pytest.mark.parametrize(
    ("prepare", "error", "message"),
    [
        (lambda p: p.write_text("not sqlite\n" * 20), BadInput, "not a SQLite database"),
        (lambda p: lfs_pointer(p, 1_234_567), BadInput, "Git LFS pointer to a 1.2 MB object .*git lfs pull"),
        (_with_an_applications_collation, BadInput, "uses the collation 'by_length', which only the application"),
        (_with_a_schema_not_in_utf8, BadInput, "its schema holds text that is not UTF-8 .*rewrite that declaration"),
        (lambda p: make_database(p, "CREATE TABLE t (RowID INTEGER, v)", "INSERT INTO t VALUES (7, 'x'), (7, 'y')"),
         BadInput, "table 't' has a column named 'rowid'"),
    ],
    ids=["not-a-database", "lfs-pointer", "unknown-collation", "schema-not-utf8", "column-named-rowid"],
)
def test_bad_source_leaves_the_target_unchanged(target, tmp_path, pair, prepare, error, message):
    migrate(target, [pair[0]], settings())
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    bad = tmp_path / "bad.db"
    prepare(bad)
    with pytest.raises(error, match=message):
        migrate(target, [bad], settings(), backup_directory=tmp_path / "backups")
    assert hashlib.sha256(target.read_bytes()).hexdigest() == digest


def test_a_source_whose_header_fields_changed_is_migrated_again(target, tmp_path):
    """user_version and application_id are the source's too (its rebuild writes them), yet no
    row or schema fingerprint covers them: a file whose only change is there is migrated
    again, not taken for unchanged, and its rebuild has the new values."""
    source = make_database(tmp_path / "a.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v)", "INSERT INTO t VALUES (1, 1)")
    migrate(target, [source], settings())
    with sqlite3.connect(source) as connection:
        connection.execute("PRAGMA user_version = 7")
        connection.execute("PRAGMA application_id = 99")
    connection.close()
    assert [o.action for o in migrate(target, [source], settings(), backup_directory=tmp_path / "b").sources] == [
        "remigrated"]
    assert [o.action for o in migrate(target, [source], settings()).sources] == ["unchanged"]
    rebuilt = tmp_path / "rebuilt.db"
    rebuild_source(target, "a.db", rebuilt)
    assert rows(rebuilt, "SELECT * FROM pragma_user_version, pragma_application_id") == [(7, 99)]
    assert_verified(target, [source])


def test_sqlite_refusing_a_table_s_rows_names_the_table_and_writes_nothing(target, tmp_path, pair, monkeypatch):
    """Whatever SQLite refuses while a table's rows move (here a constraint the ledger
    holds, broken on purpose) is one line naming the source and the table, and the
    source's whole transaction is rolled back."""
    import consolidation.merge.engine as engine

    migrate(target, [pair[0]], settings())
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    moved = engine._migrate_table

    def refused(connection, *arguments):
        outcome = moved(connection, *arguments)
        connection.execute("INSERT INTO main.shard_manifest (shard, file_name, created_at) VALUES (0, 'x', 'now')")
        return outcome

    monkeypatch.setattr(engine, "_migrate_table", refused)
    with pytest.raises(BadInput, match=r"b\.db: table 't' cannot be migrated \(CHECK constraint failed"):
        migrate(target, [pair[1]], settings(), backup_directory=tmp_path / "backups")
    assert hashlib.sha256(target.read_bytes()).hexdigest() == digest


@pytest.mark.parametrize("encoding", ["UTF-8", "UTF-16le"])
def test_rows_a_check_refuses_migrate_and_rebuild_as_they_are(target, tmp_path, encoding):
    """A row can hold what its table's CHECK refuses (written under ignore_check_constraints,
    or before the CHECK was declared): it is the source's all the same, and comes back in its
    rebuild (and through the UTF-8 copy a UTF-16 file is read by)."""
    source = tmp_path / "checked.db"
    with sqlite3.connect(source) as connection:
        connection.execute(f"PRAGMA encoding = '{encoding}'")
        connection.execute("PRAGMA ignore_check_constraints = ON")
        connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER CHECK (v > 0))")
        connection.execute("INSERT INTO t VALUES (1, -5), (2, 5)")
    connection.close()
    migrate(target, [source], settings())
    assert_verified(target, [source])
    assert_rebuilds_exactly(target, [source], tmp_path / "out")


def test_a_source_whose_autoincrement_tables_were_dropped_rebuilds(target, tmp_path):
    """SQLite keeps sqlite_sequence, empty, once its AUTOINCREMENT tables are gone; only such a
    table makes it, so the rebuild makes one and drops it again (it refused the source)."""
    source = make_database(tmp_path / "seq.db", "CREATE TABLE log (id INTEGER PRIMARY KEY AUTOINCREMENT, msg TEXT)",
                           "INSERT INTO log (msg) VALUES ('a')", "CREATE TABLE t (k TEXT PRIMARY KEY, v)",
                           "INSERT INTO t VALUES ('x', 1)", "DROP TABLE log")
    migrate(target, [source], settings())
    assert_verified(target, [source])
    assert_rebuilds_exactly(target, [source], tmp_path / "out")
    rebuilt = tmp_path / "out" / f"rebuilt-{tmp_path.name}-seq.db"
    assert rows(rebuilt, "SELECT count(*) FROM sqlite_schema WHERE name = 'sqlite_sequence'") == [(1,)]


def test_a_zero_byte_source_is_an_empty_database_migrated_with_no_tables(target, tmp_path, pair):
    empty = tmp_path / "empty.db"
    empty.touch()
    report = migrate(target, [pair[0], empty], settings())
    assert [(outcome.name, outcome.action, len(outcome.tables)) for outcome in report.sources][1] == ("empty.db", "migrated", 0)
    assert_verified(target, [pair[0], empty])
    rebuilt = tmp_path / "rebuilt.db"
    rebuild_source(target, "empty.db", rebuilt)
    assert sqldiff(empty, rebuilt) == ""
    assert migrate(target, [empty], settings()).sources[0].action == "unchanged"


def test_truncated_source_is_refused(target, tmp_path):
    source = make_database(tmp_path / "t.db", "CREATE TABLE t (x)", *[f"INSERT INTO t VALUES ('{'x' * 900}')"] * 40)
    source.write_bytes(source.read_bytes()[:10_000])
    with pytest.raises(BadInput, match="truncated"):
        migrate(target, [source], settings())


def test_locked_source_aborts(target, tmp_path, writer_lock, pair):
    writer_lock(pair[0])
    with pytest.raises(Aborted, match="locked"):
        migrate(target, [pair[0]], settings())


def test_cap_smaller_than_the_data_rolls_back(target, tmp_path, pair):
    migrate(target, [pair[0]], settings())
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    big = make_database(tmp_path / "big.db", "CREATE TABLE blobs (id INTEGER PRIMARY KEY, b)", "INSERT INTO blobs VALUES (1, zeroblob(400000))")
    with pytest.raises(Aborted, match="cap"):
        migrate(target, [big], settings(limit=300_000), backup_directory=tmp_path / "backups")
    assert hashlib.sha256(target.read_bytes()).hexdigest() == digest
    assert not Path(f"{target}-journal").exists()


def test_foreign_target_is_refused(target, tmp_path, pair):
    other = make_database(tmp_path / "other.db", "CREATE TABLE customers (id)")
    before = other.read_bytes()
    with pytest.raises(BadInput, match="not an assetdb database"):
        migrate(other, [pair[0]], settings())
    assert other.read_bytes() == before


def test_read_only_target_location_is_bad_input(target, tmp_path, pair):
    import os

    if os.geteuid() == 0:
        target = Path("/proc/assetdb-test.db")  # even root cannot create files here
    else:
        locked = tmp_path / "ro"
        locked.mkdir(mode=0o500)
        target = locked / "e.db"
    with pytest.raises(BadInput):
        migrate(target, [pair[0]], settings())


def test_dry_run_writes_nothing(target, tmp_path, pair):
    report = migrate(target, list(pair), settings(), dry_run=True)
    assert [s.action for s in report.sources] == ["planned", "planned"]
    assert report.sources[1].total("conflicts_kept") == 1
    assert not target.exists()


def test_fts5_tables_are_recreated_and_refilled_never_copied(target, tmp_path):
    """Shadow tables are rebuilt by FTS5 itself, so sqldiff compares with --vtab."""
    sources = [
        make_database(
            tmp_path / f"{name}.db",
            "CREATE VIRTUAL TABLE docs USING fts5(title, body)",
            f"INSERT INTO docs (rowid, title, body) VALUES (3, 'readme', 'hello {name}'), (7, 'guide', 'how to')",
            "DELETE FROM docs WHERE rowid = 7",
            "INSERT INTO docs (title, body) VALUES ('again', 'hello again')",
            "CREATE TABLE articles (id INTEGER PRIMARY KEY, text TEXT)",
            f"INSERT INTO articles VALUES (1, 'external {name}')",
            "CREATE VIRTUAL TABLE articles_index USING fts5(text, content='articles', content_rowid='id')",
            "INSERT INTO articles_index (articles_index) VALUES ('rebuild')",
        )
        for name in ("first", "second")
    ]
    report = migrate(target, sources, settings())
    assert "virtual table kept apart as 'second__docs'" in " ".join(report.sources[1].notes)
    assert "full-text index 'articles_index' rebuilt over the consolidated 'articles'" in report.sources[0].notes
    assert rows(target, "SELECT rowid, title FROM docs WHERE docs MATCH 'hello' ORDER BY rowid") == [
        (3, "readme"), (4, "again")
    ]
    assert rows(target, "SELECT rowid FROM second__docs WHERE second__docs MATCH 'second'") == [(3,)]
    assert rows(target, "SELECT rowid FROM articles_index WHERE articles_index MATCH 'external'") == [(1,)]
    assert_verified(target, sources)
    for source in sources:
        rebuilt = tmp_path / f"rebuilt-{source.name}"
        rebuild_source(target, source.name, rebuilt)
        assert sqldiff(source, rebuilt, "--vtab") == ""


def test_contentless_full_text_table_is_refused(target, tmp_path):
    source = make_database(tmp_path / "c.db", "CREATE VIRTUAL TABLE idx USING fts5(body, content='')", "INSERT INTO idx (rowid, body) VALUES (1, 'x')")
    with pytest.raises(BadInput, match="contentless"):
        migrate(target, [source], settings())


def test_a_fifty_megabyte_row(target, tmp_path):
    source = make_database(
        tmp_path / "huge.db",
        "CREATE TABLE files (id INTEGER PRIMARY KEY, data BLOB)",
        "INSERT INTO files VALUES (1, randomblob(50 * 1024 * 1024))",
    )
    migrate(target, [source], settings())
    assert rows(target, "SELECT length(data) FROM files") == [(50 * 1024 * 1024,)]
    assert_verified(target, [source])


def test_realworld_consolidates_losslessly_and_rebuilds_exactly(realworld, target, tmp_path):
    before = folder_state(realworld)
    sources = sorted(realworld.glob("*.db"))
    report = migrate(target, sources, settings())
    assert len(report.sources) == 4
    for outcome in report.sources:
        for table in outcome.tables:
            assert table.rows_read == table.rows_stored + table.duplicates_folded + table.conflicts_kept
    assert sum(outcome.total("rows_read") for outcome in report.sources) == 695
    # SQLite's own tables are not merged as data, but kept in the ledger for rebuilds.
    assert rows(target, "SELECT count(*) FROM sqlite_schema WHERE name IN ('sqlite_sequence', 'sqlite_stat1')") == [(0,)]
    internal = rows(target, "SELECT internal_rows FROM migration_sources WHERE name = 'documentation_sync.db'")[0][0]
    assert set(json.loads(internal)) == {"sqlite_sequence", "sqlite_stat1"}
    assert_rebuilds_exactly(target, sources, tmp_path / "out")
    assert_verified(target, sources)
    assert folder_state(realworld) == before


def test_policy_spellings():
    assert ConflictPolicy.parse("source:b.db") == ConflictPolicy.parse("source b.db") == ConflictPolicy("source", "b.db")
    assert str(ConflictPolicy.parse("newest")) == "newest" and str(ConflictPolicy.parse(None)) == "first"


def test_an_integer_primary_key_desc_is_an_ordinary_key_and_rebuilds_exactly(tmp_path):
    """``id INTEGER PRIMARY KEY DESC`` is not the rowid in SQLite: its rowids run in insert
    order while the keys do not, so a run of rows stored as they are must follow both."""
    source = make_database(
        tmp_path / "src" / "desc.db",
        "CREATE TABLE t (id INTEGER PRIMARY KEY DESC, v TEXT)",
        "INSERT INTO t (id, v) VALUES (10, 'a'), (5, 'b'), (12, 'c'), (13, 'd'), (6, 'e'), (7, 'f')",
    )
    other = make_database(
        tmp_path / "src" / "plain.db",
        "CREATE TABLE t (id INTEGER PRIMARY KEY DESC, v TEXT)",
        "INSERT INTO t (id, v) VALUES (5, 'b'), (11, 'x'), (12, 'C')",
    )
    target = tmp_path / "enterprise_assets.db"
    migrate(target, [source, other], settings())
    assert accounting(target)[("desc.db", "t")] == (6, 6, 0, 0)
    assert accounting(target)[("plain.db", "t")] == (3, 1, 1, 1)
    links = rows(target, "SELECT l.source_rowid, l.span FROM migration_row_links AS l "
                         "JOIN migration_table_accounting AS a ON a.id = l.table_id "
                         "JOIN migration_sources AS s ON s.id = a.source_id WHERE s.name = 'desc.db' "
                         "ORDER BY l.source_rowid")
    covered = [rowid for start, span in links for rowid in range(start, start + span)]
    assert covered == [1, 2, 3, 4, 5, 6]  # each source row covered once, none twice, none missed
    assert_verified(target, [source, other])
    assert_rebuilds_exactly(target, [source, other], tmp_path / "out")


def test_an_integer_primary_key_desc_may_hold_any_value_and_keeps_it(tmp_path):
    """Not being the rowid, such a key may hold text, reals and NULL: the consolidated table
    keeps the declaration, so they merge as they are; rows keyed by the rowid merge into it
    too. A source of such keys meeting a table whose key is the rowid is kept apart."""
    desc = make_database(
        tmp_path / "src" / "desc.db",
        "CREATE TABLE t (id INTEGER PRIMARY KEY DESC, v TEXT)",
        "INSERT INTO t VALUES (1, 'one'), ('x', 'text key'), (2.5, 'real key'), (NULL, 'no key')",
    )
    plain = make_database(
        tmp_path / "src" / "plain.db",
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)",
        "INSERT INTO t VALUES (1, 'ONE'), (3, 'three')",
    )
    target = tmp_path / "enterprise_assets.db"
    migrate(target, [desc, plain], settings())
    assert "INTEGER PRIMARY KEY DESC" in rows(target, "SELECT sql FROM sqlite_schema WHERE name = 't'")[0][0]
    assert rows(target, "SELECT id, typeof(id), v FROM t ORDER BY rowid") == [
        (1, "integer", "one"), ("x", "text", "text key"), (2.5, "real", "real key"), (None, "null", "no key"),
        (3, "integer", "three")]
    assert accounting(target)[("plain.db", "t")] == (2, 1, 0, 1)  # key 1 meets 'one': kept as a conflict
    assert_verified(target, [desc, plain])
    assert_rebuilds_exactly(target, [desc, plain], tmp_path / "out")

    rowid_first = tmp_path / "rowid_first.db"
    report = migrate(rowid_first, [plain, desc], settings())
    assert report.sources[1].tables[0].target_table == "desc__t"
    assert "holds values other than integers" in report.sources[1].notes[0]
    assert_verified(rowid_first, [plain, desc])
    assert_rebuilds_exactly(rowid_first, [plain, desc], tmp_path / "out2")


def test_an_integer_key_of_a_without_rowid_table_may_hold_any_value_and_keeps_it(tmp_path):
    """In a WITHOUT ROWID table an INTEGER PRIMARY KEY is a column like any other: text and
    reals in it merge as they are (the consolidated table declares the key the one way
    SQLite does not make the rowid), and meet a rowid-keyed table only if all integers."""
    source = make_database(tmp_path / "src" / "nr.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v) WITHOUT ROWID",
                           "INSERT INTO t VALUES ('abc', 1), (1.5, 2), (3, 3)")
    plain = make_database(tmp_path / "src" / "plain.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v)",
                          "INSERT INTO t VALUES (3, 3), (5, 5)")
    target = tmp_path / "enterprise_assets.db"
    migrate(target, [source, plain], settings())
    assert rows(target, "SELECT id, typeof(id) FROM t ORDER BY rowid") == [
        (1.5, "real"), (3, "integer"), ("abc", "text"), (5, "integer")]
    assert accounting(target)[("plain.db", "t")] == (2, 1, 1, 0)
    assert_verified(target, [source, plain])
    assert_rebuilds_exactly(target, [source, plain], tmp_path / "out")
    rowid_first = tmp_path / "rowid_first.db"
    report = migrate(rowid_first, [plain, source], settings())
    assert report.sources[1].tables[0].target_table == "nr__t" and "WITHOUT ROWID" in report.sources[1].notes[0]
    assert_rebuilds_exactly(rowid_first, [plain, source], tmp_path / "out2")


def test_minus_zero_and_zero_are_different_values(tmp_path):
    """A column without affinity keeps the sign of a zero; SQLite's = and IS, quote() and
    sqldiff do not see it. The merge must not fold 0.0 into -0.0, each source must rebuild
    with its own, and the live proof must notice a sign changed in the set."""
    negative = make_database(tmp_path / "src" / "negative.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v)")
    positive = make_database(tmp_path / "src" / "positive.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v)")
    for path, value in ((negative, -0.0), (positive, 0.0)):
        with sqlite3.connect(path) as connection:
            connection.executemany("INSERT INTO t VALUES (?, ?)", [(1, value), (2, 1.5)])
        connection.close()
    target = tmp_path / "enterprise_assets.db"
    migrate(target, [negative, positive], settings())
    assert accounting(target)[("positive.db", "t")] == (2, 0, 1, 1)  # 0.0 kept as a conflict, 1.5 folded
    assert_verified(target, [negative, positive])
    out = tmp_path / "out"
    out.mkdir()
    for path, value in ((negative, "-0.0"), (positive, "0.0")):
        rebuilt = out / path.name
        rebuild_source(target, path.name, rebuilt)
        assert repr(rows(rebuilt, "SELECT v FROM t WHERE id = 1")[0][0]) == value
    with sqlite3.connect(target) as connection:
        connection.execute("UPDATE t SET v = ? WHERE id = 1", (0.0,))
    connection.close()
    live = verify_database(target, [negative], LIMIT)
    assert not live.ok and any("rowid 1 differs" in failure for failure in live.failures()), live.failures()



def _numbers(count: int) -> str:
    return f"(WITH RECURSIVE n(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM n WHERE value < {count}) SELECT value FROM n)"


def test_dense_sparse_and_extreme_rowids_are_each_placed_once(tmp_path):
    """Rows are placed a range of identities at a time: ranges counted off while identities
    are dense, walked once they are sparse, up to the largest and from the smallest rowid
    SQLite holds. Every row is placed once, in either source order, and linked by runs
    that hold only its rows (near the smallest rowid, identity less rank is no integer)."""
    filler = "x" * 600  # about 3,300 rows to a chunk: several chunks of each kind
    first = make_database(
        tmp_path / "src" / "first.db",
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)",
        f"INSERT INTO t SELECT value, '{filler}' || value FROM {_numbers(9000)}",
        f"INSERT INTO t SELECT 10000 + value * 1000000007, '{filler}' FROM {_numbers(7000)}",
        "INSERT INTO t VALUES (9223372036854775807, 'largest'), (-9223372036854775808, 'smallest'), "
        "(-9223372036854775806, 'a gap above the smallest'), (-9223372036854775805, 'after it')",
        "CREATE TABLE top (id INTEGER PRIMARY KEY, v TEXT)",  # dense up to the largest rowid
        f"INSERT INTO top SELECT 9223372036854775807 - 7000 + value, '{filler}' FROM {_numbers(7000)}",
    )
    second = make_database(tmp_path / "src" / "second.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    connection = sqlite3.connect(second)
    with connection:
        connection.execute("ATTACH DATABASE ? AS f", (str(first),))
        connection.execute("INSERT INTO t SELECT id, CASE WHEN id % 3 = 0 OR id < -9000000000000000000 "
                           "THEN 'changed' ELSE v END FROM f.t "
                           "WHERE id % 2 = 0 OR id > 9000000000000000000 OR id < -9000000000000000000")
        connection.execute("INSERT INTO t VALUES (20000, 'only here')")
    connection.close()
    for order, name in (([first, second], "one.db"), ([second, first], "two.db")):
        target = tmp_path / name
        migrate(target, order, settings())
        counts = accounting(target)
        for source in order:
            for table in ("t", "top")[: 2 if source == first else 1]:
                read, stored, folded, conflicts = counts[(source.name, table)]
                assert read == rows(source, f"SELECT count(*) FROM {table}")[0][0] == stored + folded + conflicts
        assert rows(target, "SELECT count(*) FROM t")[0][0] == 16_005
        assert rows(target, "SELECT count(*), max(id) FROM top")[0] == (7000, 2**63 - 1)
        assert_verified(target, order)
        assert_rebuilds_exactly(target, order, tmp_path / f"out-{name}")


def test_runs_of_kept_versions_are_taken_apart_when_a_source_is_taken_out(target, tmp_path):
    """Versions kept as conflicts are linked a run at a time. Taking a source out again
    (it changed) moves, promotes and deletes kept versions one by one: the runs of every
    source in its tables are first cut into one-row links, and the books stay exact."""
    table = "CREATE TABLE t (id INTEGER PRIMARY KEY, label TEXT)"
    sources = [
        make_database(tmp_path / "src" / f"{name}.db", table,
                      f"INSERT INTO t SELECT value, '{name} ' || value FROM {_numbers(200)}")
        for name in ("first", "second", "third")
    ]
    migrate(target, sources, settings())
    kept = "SELECT count(*), total(span) FROM migration_row_links WHERE in_conflicts = 1"
    assert rows(target, kept) == [(8, 400)]  # two sources' 200 versions kept, in runs of at most 64
    for changed in (sources[1], sources[0]):  # a source whose versions are kept, then the one shown
        connection = sqlite3.connect(changed)
        with connection:
            connection.execute("UPDATE t SET label = upper(label) WHERE id % 2 = 0")
        connection.close()
        report = migrate(target, [changed], settings())
        assert report.sources[0].action == "remigrated"
        assert_verified(target, sources)
        assert_rebuilds_exactly(target, sources, tmp_path / f"out-{changed.stem}")
        for source in sources:
            read, stored, folded, conflicts = accounting(target)[(source.name, "t")]
            assert read == 200 == stored + folded + conflicts
    assert rows(target, "SELECT count(*) FROM t")[0][0] == 200
    assert rows(target, "SELECT total(span) FROM migration_row_links WHERE in_conflicts = 1") == [(400,)]
    shown = rows(target, "SELECT label FROM t WHERE id IN (1, 2) ORDER BY id")
    assert shown == [("third 1",), ("third 2",)]  # the earliest migrated of those left is shown


@pytest.mark.parametrize("order", ["old new mid", "old mid new", "mid old new", "new old mid"])
def test_newest_keeps_the_version_the_newest_file_holds_whatever_the_order(target, tmp_path, order):
    """The version shown is as new as the newest file holding it: one folded into the row
    counts, not only the file that stored it. A file between the two no longer takes the
    key over when it comes last."""
    table = "CREATE TABLE t (k INTEGER PRIMARY KEY, v)"
    files = {name: make_database(tmp_path / "src" / f"{name}.db", table, f"INSERT INTO t VALUES (1, '{value}')")
             for name, value in (("old", "same"), ("mid", "mid"), ("new", "same"))}
    for day, name in enumerate(("old", "mid", "new"), 1):
        os.utime(files[name], (day * 86_400, day * 86_400))
    migrate(target, [files[name] for name in order.split()], settings(policy=ConflictPolicy.parse("newest")))
    assert rows(target, "SELECT v FROM t") == [("same",)]
    kept = rows(target, "SELECT s.name FROM migration_conflicts AS c JOIN migration_sources AS s "
                        "ON s.id = c.kept_source_id")
    assert ("mid.db",) in kept and ("new.db",) not in kept  # (old's copy is kept when it lost to mid first)
    assert_verified(target, list(files.values()))
