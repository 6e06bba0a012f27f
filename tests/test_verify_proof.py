"""The live proof (joins inside SQLite) catches every kind of change, in every kind of table.

Each test migrates real files, then changes one thing in the consolidated set or in the
source with plain sqlite3, and expects verify to name the row; an untouched set verifies.
"""

from __future__ import annotations

import sqlite3
import subprocess
import threading
import time
from contextlib import closing

import pytest

from conftest import make_database, sqldiff, sqlite_shell
from consolidation.errors import Aborted, BadInput
from consolidation.merge import ConflictPolicy, MigrationSettings, migrate
from consolidation.merge.accounting import record_conflicts, recount
from consolidation.merge.fingerprinting import AHEAD, SourceReads
from consolidation.proof.ledger import read_sources
from consolidation.proof.rebuild import rebuild_source
from consolidation.proof.verify import verify_database, verify_rebuilt
from consolidation.sqlite import describe_source
from consolidation.sqlite.describe import fingerprint_source
from consolidation.sqlite.fingerprint import fingerprint_query
from consolidation.sqlite.signed_zero import tell_the_sign_of_zero
from consolidation.store import ShardSet

LIMIT = 50_000_000


def _source(path, *statements):
    return make_database(path, *statements)


def _migrated(tmp_path, *sources):
    target = tmp_path / "ws" / "enterprise_assets.db"
    target.parent.mkdir(exist_ok=True)
    migrate(target, list(sources), MigrationSettings(limit=LIMIT))
    return target


def _dump(path) -> str:
    return subprocess.run([sqlite_shell(), str(path), ".dump"], capture_output=True, text=True, check=True).stdout


def _change(path, statement):
    connection = sqlite3.connect(path)
    connection.executescript(statement)
    connection.commit()
    connection.close()


@pytest.fixture
def typed_source(tmp_path):
    return _source(
        tmp_path / "legacy" / "typed.db",
        "CREATE TABLE t (id INTEGER PRIMARY KEY, label TEXT, amount, note)",
        "INSERT INTO t VALUES (1, 'one', 1, NULL), (2, 'two', 2, 'x'), (3, 'abc', 3, NULL), (4, 'four', 4, NULL)",
    )


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        ("UPDATE t SET label = 'changed' WHERE id = 2", "rowid 2 differs in the consolidated set"),
        ("DELETE FROM t WHERE id = 3", "rowid 3 missing from the consolidated set"),
        ("UPDATE t SET label = CAST(label AS BLOB) WHERE id = 3", "rowid 3 differs"),  # same bytes, now a BLOB
        ("UPDATE t SET amount = 4.0 WHERE id = 4", "rowid 4 differs"),  # an integer turned into a real
        ("UPDATE t SET note = '' WHERE id = 1", "rowid 1 differs"),  # NULL turned into ''
        ("UPDATE t SET label = 'ONE' WHERE id = 1", "rowid 1 differs"),  # case only
    ],
    ids=["value", "deleted", "text-to-blob", "integer-to-real", "null-to-empty", "case"],
)
def test_a_change_in_the_consolidated_set_is_named(tmp_path, typed_source, tamper, expected):
    target = _migrated(tmp_path, typed_source)
    assert verify_database(target, [typed_source]).ok
    _change(target, tamper)
    report = verify_database(target, [typed_source])
    assert not report.ok
    assert any(expected in failure for failure in report.failures()), report.failures()


def test_a_row_added_to_the_source_is_named_missing(tmp_path, typed_source):
    target = _migrated(tmp_path, typed_source)
    _change(typed_source, "INSERT INTO t VALUES (9, 'late', 9, NULL)")
    report = verify_database(target, [typed_source])
    assert any("rowid 9 missing from the consolidated set" in f for f in report.failures())


def test_a_row_gone_from_the_source_is_named_extra(tmp_path, typed_source):
    target = _migrated(tmp_path, typed_source)
    _change(typed_source, "DELETE FROM t WHERE id = 2")
    report = verify_database(target, [typed_source])
    assert any("rowid 2 in the consolidated set but not in the source" in f for f in report.failures())


def test_rows_copied_as_they_are_are_linked_a_run_at_a_time(tmp_path, typed_source):
    target = _migrated(tmp_path, typed_source)
    with closing(sqlite3.connect(target)) as connection:
        assert connection.execute("SELECT source_rowid, target_rowid, span FROM migration_row_links").fetchall() == [
            (1, 1, 4)
        ]


@pytest.mark.parametrize(
    ("tamper", "named"),
    [
        ("UPDATE migration_row_links SET target_rowid = 999", "rowid 1, 2, 3, 4 missing from the consolidated set"),
        ("UPDATE migration_row_links SET span = 3", "rowid 4 missing from the consolidated set"),
        ("UPDATE migration_row_links SET span = 5; INSERT INTO t VALUES (5, 'five', 5, NULL)",
         "rowid 5 in the consolidated set but not in the source"),
    ],
    ids=["pointing-nowhere", "span-too-short", "span-too-long"],
)
def test_a_provenance_link_that_does_not_cover_its_rows_is_named(tmp_path, typed_source, tamper, named):
    target = _migrated(tmp_path, typed_source)
    _change(target, tamper)
    report = verify_database(target, [typed_source])
    assert any(named in failure for failure in report.failures()), report.failures()


def test_values_that_differ_only_by_collation_are_kept_as_a_conflict_not_folded(tmp_path):
    """Under NOCASE 'Alpha' = 'alpha'; as data they differ, and the second must survive."""
    a = _source(tmp_path / "legacy" / "a.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT COLLATE NOCASE)",
                "INSERT INTO t VALUES (1, 'Alpha')")
    b = _source(tmp_path / "legacy" / "b.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT COLLATE NOCASE)",
                "INSERT INTO t VALUES (1, 'alpha')")
    target = _migrated(tmp_path, a, b)
    assert verify_database(target, [a, b]).ok
    rebuilt = tmp_path / "b-rebuilt.db"
    rebuild_source(target, "b.db", rebuilt)
    assert sqldiff(b, rebuilt) == ""


def test_a_without_rowid_table_is_proved_by_its_ordinals(tmp_path):
    source = _source(
        tmp_path / "legacy" / "w.db",
        "CREATE TABLE w (k TEXT PRIMARY KEY, v) WITHOUT ROWID",
        "INSERT INTO w VALUES ('b', 2), ('a', 1), ('c', X'00ff')",
    )
    target = _migrated(tmp_path, source)
    assert verify_database(target, [source]).ok
    _change(target, "UPDATE w SET v = 3 WHERE k = 'c'")
    report = verify_database(target, [source])
    assert any("row 3 differs" in f for f in report.failures()), report.failures()


def test_a_table_of_1999_columns_migrates_verifies_and_rebuilds(tmp_path):
    """SQLite allows 2,000 columns; one expression term per column would nest too deep."""
    columns = ", ".join(f"c{index} INTEGER" for index in range(1998))
    values = ", ".join(str(index) for index in range(1998))
    source = _source(
        tmp_path / "legacy" / "wide.db",
        f"CREATE TABLE wide (id INTEGER PRIMARY KEY, {columns})",
        f"INSERT INTO wide VALUES (1, {values})",
        f"INSERT INTO wide VALUES (2, {values})",
    )
    other = _source(
        tmp_path / "legacy" / "other.db",
        f"CREATE TABLE wide (id INTEGER PRIMARY KEY, {columns})",
        f"INSERT INTO wide VALUES (1, {values})",  # a duplicate: folded by comparing every column
        f"INSERT INTO wide VALUES (3, {values.replace('1997', '-1')})",
    )
    target = _migrated(tmp_path, source, other)
    assert verify_database(target, [source, other]).ok
    rebuilt = tmp_path / "wide-rebuilt.db"
    rebuild_source(target, "other.db", rebuilt)
    # sqldiff itself nests one term per column and refuses this width: the shell's dump
    # of both files is the independent oracle here.
    assert _dump(rebuilt) == _dump(other)
    _change(target, "UPDATE wide SET c1997 = 0 WHERE id = 2")
    assert any("rowid 2 differs" in f for f in verify_database(target, [source]).failures())


def test_a_table_of_2000_columns_is_refused_in_one_line_naming_it(tmp_path):
    """Its rows are read with their identity beside them: one column past SQLite's limit."""
    columns = ", ".join(f"c{index}" for index in range(1999))
    source = _source(tmp_path / "legacy" / "widest.db", f"CREATE TABLE widest (id INTEGER PRIMARY KEY, {columns})",
                     "INSERT INTO widest (id, c0) VALUES (1, 2)")
    target = tmp_path / "ws" / "enterprise_assets.db"
    target.parent.mkdir()
    with pytest.raises(BadInput, match=r"widest\.db: table 'widest' cannot be migrated \(too many columns"):
        migrate(target, [source], MigrationSettings(limit=LIMIT))
    assert not target.exists()


def test_a_same_named_table_whose_column_union_passes_the_limit_is_kept_apart(tmp_path):
    sources = []
    for name in ("a", "b"):
        columns = ", ".join(f"{name}{index}" for index in range(1500))
        sources.append(_source(
            tmp_path / "legacy" / f"{name}.db",
            f"CREATE TABLE t (id INTEGER PRIMARY KEY, {columns})",
            f"INSERT INTO t (id, {name}0) VALUES (1, 'kept')",
        ))
    target = tmp_path / "ws" / "enterprise_assets.db"
    target.parent.mkdir()
    report = migrate(target, sources, MigrationSettings(limit=LIMIT))
    notes = [table.note for outcome in report.sources for table in outcome.tables if table.note]
    assert any("(3,001) is more than the 1,999 a merged table can have" in note for note in notes), notes
    assert [table.target_table for table in report.sources[1].tables] == ["b__t"]
    assert verify_database(target, sources).ok


def test_the_counts_the_statements_report_are_the_counts_the_links_give(tmp_path):
    """The merge keeps its books from what each statement placed, and lists each conflict as
    it keeps it; recounting and relisting from the links (the slow way) must agree."""
    sources = [
        _source(
            tmp_path / "legacy" / f"s{index}.db",
            "CREATE TABLE keyed (id INTEGER PRIMARY KEY, v)",
            "CREATE TABLE named (k TEXT PRIMARY KEY, v)",
            "CREATE TABLE loose (a, b)",
            *(f"INSERT INTO keyed VALUES ({key}, {key % (index + 2)})" for key in range(index * 5, index * 5 + 20)),
            *(f"INSERT INTO named VALUES ('{key}', {key % 3})" for key in range(index, index + 8)),
            "INSERT INTO named VALUES (NULL, 'a null key')",
            *(f"INSERT INTO loose VALUES ({key}, {index})" for key in range(4)),
        )
        for index in range(4)
    ]
    target = _migrated(tmp_path, *sources)
    connection = sqlite3.connect(target)
    query = ("SELECT id, rows_read, rows_stored, duplicates_folded, conflicts_kept "
             "FROM migration_table_accounting ORDER BY id")
    kept = connection.execute(query).fetchall()
    assert sum(row[3] for row in kept) and sum(row[4] for row in kept)  # folds and conflicts both happened
    conflicts = ("SELECT target_table, row_key, shown_source_id, kept_source_id, kept_table, kept_shard, "
                 "kept_rowid, policy, recorded_at FROM migration_conflicts ORDER BY target_table, kept_rowid")
    listed = connection.execute(conflicts).fetchall()
    assert len(listed) == sum(row[4] for row in kept)
    shards = ShardSet(connection, target, LIMIT)
    for (table,) in connection.execute("SELECT DISTINCT target_table FROM migration_table_accounting").fetchall():
        recount(connection, table)
        record_conflicts(connection, shards, table, ConflictPolicy())
    assert connection.execute(query).fetchall() == kept
    assert connection.execute(conflicts).fetchall() == listed
    connection.rollback()
    connection.close()
    assert verify_database(target, sources).ok


def test_reconstruction_past_sqlites_join_limit_gives_the_same_rows(tmp_path, typed_source):
    """One LEFT JOIN per (shard, table) would pass SQLite's 64 tables in a join for a set of
    more than 31 files (builds that attach up to 125); past that the rows are unioned."""
    target = _migrated(tmp_path, typed_source)
    connection = sqlite3.connect(target)
    table = read_sources(connection)[0].tables[0]
    joined = connection.execute(table.reconstruct(connection, "main", {1: "main"})).fetchall()
    many = {number: "main" for number in range(1, 71)}  # 70 parts: the union form
    assert "UNION ALL" in table.reconstruct(connection, "main", many)
    assert connection.execute(table.reconstruct(connection, "main", many)).fetchall() == joined
    assert [row[0] for row in joined] == [1, 2, 3, 4]
    connection.close()


def _many_rows(path, count=200_000):
    return _source(path, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)",
                   f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count}) "
                   "INSERT INTO t SELECT i, 'value ' || i FROM n")


def test_the_fingerprint_read_ahead_is_the_one_read_in_line_with_the_files_hash(tmp_path):
    source = _many_rows(tmp_path / "many.db", 2_000)
    connection = sqlite3.connect(source)
    description = describe_source(connection)
    in_line = fingerprint_source(connection, "main", description)
    connection.close()
    from consolidation.sqlite import file_sha256

    with SourceReads([source]) as reads:
        assert reads.fingerprints(source, description) == (*in_line, file_sha256(source))


def test_closing_the_reads_stops_the_fingerprints_and_ends_their_thread(tmp_path):
    """A failed migration closes its reads: the fingerprint being read is interrupted (the
    cancel is never lost, even before the first statement runs), no thread stays, and a
    write that still asked for a fingerprint would be refused, never left waiting."""
    sources = [_many_rows(tmp_path / f"many{n}.db") for n in range(3)]
    connection = sqlite3.connect(sources[0])
    description = describe_source(connection)
    connection.close()
    reads = SourceReads(sources)
    reads.close()
    assert not [thread for thread in threading.enumerate() if thread.name == "assetdb-fingerprints"]
    with pytest.raises((sqlite3.OperationalError, Aborted), match="interrupt|not read"):
        reads.fingerprints(sources[0], description)


def test_a_fingerprint_that_fails_fails_the_write_that_takes_it(tmp_path):
    source = _many_rows(tmp_path / "shape.db", 1)
    connection = sqlite3.connect(source)
    description = describe_source(connection)
    connection.close()
    source.unlink()  # gone before the thread opens it
    with SourceReads([source]) as reads, pytest.raises(BadInput, match="no such database file"):
        reads.fingerprints(source, description)


def test_a_source_made_unreadable_after_it_was_judged_is_named_as_unreadable(tmp_path, monkeypatch):
    """chmod 000 between the preflight and the read: one line saying the source cannot be
    read (it said "cannot write here", of a file the tool only reads)."""
    from consolidation.merge import fingerprinting

    source = _many_rows(tmp_path / "s.db", 10)

    def refused(path, **options):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(fingerprinting, "readonly_uri", refused)
    with SourceReads([source]) as reads, pytest.raises(BadInput, match=r"s\.db: cannot be read \(Permission denied\)"):
        reads.uri(source)


def test_the_fingerprints_run_ahead_of_the_merge_only_so_far(tmp_path):
    """Each source read ahead holds its snapshot (a copy, for a file whose -wal holds rows)
    until it is committed: no more than AHEAD of them are read before the merge asks."""
    sources = [_many_rows(tmp_path / f"s{n}.db", 10) for n in range(AHEAD + 3)]
    with SourceReads(sources) as reads:
        connection = sqlite3.connect(sources[0])
        description = describe_source(connection)
        connection.close()
        reads.fingerprints(sources[0], description)
        deadline = time.monotonic() + 30
        while len(reads._read) < 1 + AHEAD and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)  # time enough to read one more, were it allowed
        assert len(reads._read) == 1 + AHEAD


def test_a_fingerprint_that_fails_ahead_stops_the_run_at_its_source_and_keeps_those_before(tmp_path, monkeypatch):
    """The fingerprints are read ahead, in the run's order: one that fails is said of its own
    source when its write takes it, and the sources committed before it stay migrated."""
    from consolidation.merge import fingerprinting

    sources = [_source(tmp_path / f"s{n}.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v)",
                       f"INSERT INTO t VALUES ({n}, 'v{n}')") for n in range(5)]
    real = fingerprinting.fingerprint_source

    def failing_for_the_last(connection, schema, description, *rest):
        if connection.execute("SELECT v FROM main.t").fetchone() == ("v4",):
            raise sqlite3.OperationalError("disk I/O error")
        return real(connection, schema, description, *rest)

    target = _migrated(tmp_path, _source(tmp_path / "first.db", "CREATE TABLE f (id INTEGER PRIMARY KEY)"))
    monkeypatch.setattr(fingerprinting, "fingerprint_source", failing_for_the_last)
    with pytest.raises(BadInput, match=r"s4\.db: cannot be migrated \(disk I/O error\)"):
        migrate(target, sources, MigrationSettings(limit=LIMIT))
    with closing(sqlite3.connect(target)) as connection:
        assert [name for (name,) in connection.execute("SELECT name FROM migration_sources ORDER BY name")] == [
            "first.db", "s0.db", "s1.db", "s2.db", "s3.db"]
    assert verify_database(target, [tmp_path / "first.db", *sources[:4]]).ok
    assert not [thread for thread in threading.enumerate() if thread.name == "assetdb-fingerprints"]


def test_a_source_written_to_while_it_is_migrated_is_refused_and_taken_whole_by_the_next_run(tmp_path, monkeypatch):
    """Its fingerprint is read ahead of its merge, its hash after its rows: a commit into it
    between them would record a fingerprint of other rows than those merged, or a hash of a
    later file (the next run then calls it unchanged). The run stops at it, keeping the
    sources committed before; the next run migrates it whole and everything proves."""
    from consolidation.merge import fingerprinting

    sources = [_source(tmp_path / f"s{n}.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v)",
                       f"INSERT INTO t VALUES ({n}, 'v{n}')") for n in range(6)]
    target = _migrated(tmp_path, _source(tmp_path / "first.db", "CREATE TABLE f (id INTEGER PRIMARY KEY)"))
    real = fingerprinting.fingerprint_source

    def then_written_to(connection, schema, description, *rest):
        taken = real(connection, schema, description, *rest)
        if connection.execute("SELECT v FROM main.t").fetchone() == ("v5",):
            with closing(sqlite3.connect(sources[5])) as writer, writer:  # another process, say
                writer.execute("UPDATE t SET v = 'changed since'")
        return taken

    monkeypatch.setattr(fingerprinting, "fingerprint_source", then_written_to)
    with pytest.raises(Aborted, match=r"s5\.db: changed while it was being migrated"):
        migrate(target, sources, MigrationSettings(limit=LIMIT))
    monkeypatch.setattr(fingerprinting, "fingerprint_source", real)
    again = migrate(target, sources, MigrationSettings(limit=LIMIT))
    assert [outcome.action for outcome in again.sources] == ["unchanged"] * 4 + ["migrated"] * 2
    assert verify_database(target, [tmp_path / "first.db", *sources]).ok
    with closing(sqlite3.connect(target)) as connection:
        assert connection.execute("SELECT v FROM t WHERE id = 5").fetchone() == ("changed since",)
    rebuilt = tmp_path / "s5.rebuilt.db"
    rebuild_source(target, "s5.db", rebuilt)
    assert sqldiff(sources[5], rebuilt) == ""


def test_a_source_only_read_meanwhile_is_not_taken_for_one_written_to(tmp_path, monkeypatch):
    """Another process that only reads a WAL source makes (and removes) an empty -wal beside
    it: nothing of the source changed, and its write goes through."""
    from consolidation.merge import fingerprinting

    source = _source(tmp_path / "s.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v)", "INSERT INTO t VALUES (1, 'a')")
    real = fingerprinting.fingerprint_source

    def while_a_reader_looks(connection, schema, description, *rest):
        (tmp_path / "s.db-wal").write_bytes(b"")  # a reader's, empty
        return real(connection, schema, description, *rest)

    monkeypatch.setattr(fingerprinting, "fingerprint_source", while_a_reader_looks)
    target = tmp_path / "ws" / "enterprise_assets.db"
    target.parent.mkdir()
    assert [o.action for o in migrate(target, [source], MigrationSettings(limit=LIMIT)).sources] == ["migrated"]


def test_a_changed_source_written_to_again_while_it_is_migrated_anew_is_refused(tmp_path, monkeypatch):
    """A source migrated before and changed since is fingerprinted in line, to tell whether
    its rows changed: a commit into it after that, before its merge reads it, is refused too."""
    from consolidation.merge import engine

    source = _source(tmp_path / "s.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v)", "INSERT INTO t VALUES (1, 'a')")
    target = _migrated(tmp_path, source)
    with closing(sqlite3.connect(source)) as writer, writer:
        writer.execute("INSERT INTO t VALUES (2, 'b')")
    real = engine.fingerprint_source

    def then_written_to(connection, schema, description, *rest):
        taken = real(connection, schema, description, *rest)
        with closing(sqlite3.connect(source)) as writer, writer:
            writer.execute("INSERT INTO t VALUES (3, 'c')")
        return taken

    monkeypatch.setattr(engine, "fingerprint_source", then_written_to)
    with pytest.raises(Aborted, match=r"s\.db: changed while it was being migrated"):
        migrate(target, [source], MigrationSettings(limit=LIMIT))
    monkeypatch.setattr(engine, "fingerprint_source", real)
    assert [outcome.action for outcome in migrate(target, [source], MigrationSettings(limit=LIMIT)).sources] == [
        "remigrated"]
    assert verify_database(target, [source]).ok


def test_reconstruction_comes_out_in_identity_order_with_nothing_sorted(tmp_path):
    """Runs and one-row links interleave; the fingerprint of the reconstruction must not
    sort (a sorter would hold rows of any width), and its rows must come in identity order."""
    sources = [
        make_database(
            tmp_path / "legacy" / f"s{index}.db",
            "CREATE TABLE keyed (id INTEGER PRIMARY KEY, v)",
            "CREATE TABLE loose (a, b)",
            *(f"INSERT INTO keyed VALUES ({key}, {key % (index + 2)})" for key in range(index * 5, index * 5 + 30)),
            *(f"INSERT INTO loose VALUES ({key}, {index})" for key in range(6)),
        )
        for index in range(3)
    ]
    target = _migrated(tmp_path, *sources)
    connection = sqlite3.connect(target)
    spans = connection.execute("SELECT count(*) FROM migration_row_links WHERE span > 1").fetchone()[0]
    singles = connection.execute("SELECT count(*) FROM migration_row_links WHERE span = 1").fetchone()[0]
    assert spans and singles
    tell_the_sign_of_zero(connection)
    for source in read_sources(connection):
        for table in source.tables:
            select = table.reconstruct(connection, "main", {1: "main"})
            plan = " ".join(row[-1] for row in connection.execute(
                "EXPLAIN QUERY PLAN " + fingerprint_query(select, 1 + len(table.columns), in_order=True)))
            assert "TEMP B-TREE" not in plan, plan
            identities = [row[0] for row in connection.execute(select)]
            assert identities == sorted(identities) and len(identities) == table.rows_read
    connection.close()
    assert verify_database(target, []).ok


@pytest.mark.parametrize(
    ("tamper", "named"),
    [
        (None, None),
        ("UPDATE t SET amount = 4.0 WHERE id = 4", "t: rowid 4 differs in the rebuilt file"),
        ("DELETE FROM t WHERE id = 2", "t: rowid 2 missing from the rebuilt file"),
        ("INSERT INTO t (id, label) VALUES (99, 'new')", "t: rowid 99 in the rebuilt file but not in the consolidated set"),
        ("CREATE INDEX t_label ON t (label)", "its schema objects or SQLite's own rows are not the source's"),
        ("CREATE TABLE extra (x)", "extra: a table the source did not have"),
    ],
    ids=["exact", "value", "row", "added", "schema", "table"],
)
def test_a_rebuilt_file_is_proved_against_the_set_by_joins(tmp_path, typed_source, tamper, named):
    target = _migrated(tmp_path, typed_source)
    rebuilt = tmp_path / "rebuilt.db"
    rebuild_source(target, "typed.db", rebuilt)
    if tamper:
        _change(rebuilt, tamper)
    problems = verify_rebuilt(target, "typed.db", rebuilt)
    assert (problems == []) if named is None else any(named in problem for problem in problems), problems
