"""FTS3 and FTS4 tables: recreated through their module, never by copying shadow tables,
every row carried (hidden data columns too), rebuilt sqldiff-clean with the same schema."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from conftest import make_database, sqldiff
from consolidation.errors import BadInput
from consolidation.merge import MigrationSettings, migrate
from consolidation.proof import rebuild_source, verify_database

LIMIT = 99_900_000

#: Every option FTS3 and FTS4 read (or, for FTS3, take as a column name).
DECLARATIONS = {
    "fts3_content_is_a_column": 'USING FTS3 (text1, text2, content="searchable")',
    "fts3_porter": "USING fts3 (body, tokenize=porter)",
    "fts4_prefix_order": 'USING fts4 (title, body, prefix="2,3", order=DESC)',
    "fts4_notindexed_matchinfo": "USING fts4 (title, body, notindexed=body, matchinfo=fts3)",
    "fts4_languageid": 'USING fts4 (body, languageid="lid")',
    "fts4_unicode61": 'USING fts4 (body, tokenize=unicode61 "remove_diacritics=2")',
    "fts4_external": 'USING fts4 (content="searchable", text1, text2)',
}


def visible_columns(connection: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in connection.execute(f'PRAGMA table_xinfo("{table}")') if row[6] == 0]


@pytest.fixture
def source(tmp_path) -> Path:
    path = tmp_path / "search.db"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE searchable (text1, text2)")
    connection.executemany("INSERT INTO searchable VALUES (?, ?)", [("alpha beta", "résumé"), ("gamma", None)])
    for name, declaration in DECLARATIONS.items():
        connection.execute(f"CREATE VIRTUAL TABLE {name} {declaration}")
        if name == "fts4_external":
            connection.execute(f"INSERT INTO {name} ({name}) VALUES ('rebuild')")
            continue
        columns = visible_columns(connection, name)
        for number in range(4):
            values = [f"{name} word{number} naïve café" for _ in columns]
            connection.execute(f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                               values)
    connection.execute("UPDATE fts4_languageid SET lid = rowid * 3")  # a hidden column that is data
    connection.commit()
    connection.close()
    return path


def rows(path: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(path) as connection:
        return connection.execute(sql).fetchall()


def test_fts3_and_fts4_tables_migrate_verify_and_rebuild_exactly(source, tmp_path):
    target = tmp_path / "enterprise_assets.db"
    report = migrate(target, [source], MigrationSettings(LIMIT))
    assert not any("kept for rebuild only" in note for note in report.sources[0].notes)
    verified = verify_database(target, [source])
    assert verified.ok, verified.failures()
    migrated = {verdict.table: verdict.rows for verdict in verified.verdicts}
    assert migrated["fts3_content_is_a_column"] == 4  # FTS3's content="…" is a column, not external content
    rebuilt = tmp_path / "rebuilt.db"
    rebuild_source(target, "search.db", rebuilt)
    assert sqldiff(source, rebuilt, "--vtab") == ""
    schema = "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY name"  # shadow tables included
    assert rows(rebuilt, schema) == rows(source, schema)
    for name in DECLARATIONS:  # what sqldiff --vtab reads, and the hidden language ids it does not
        select = f"SELECT rowid, * FROM {name} ORDER BY rowid"
        assert rows(rebuilt, select) == rows(source, select), name
    assert rows(rebuilt, "SELECT rowid, lid FROM fts4_languageid ORDER BY rowid") == [(1, 3), (2, 6), (3, 9), (4, 12)]
    for name in ("fts3_porter", "fts4_unicode61", "fts4_prefix_order"):  # the index itself was rebuilt
        search = f"SELECT rowid FROM {name} WHERE {name} MATCH 'word2'"
        assert rows(rebuilt, search) == rows(source, search) == [(3,)], name
    search = "SELECT rowid FROM fts4_unicode61 WHERE fts4_unicode61 MATCH 'naive'"  # diacritics removed
    assert rows(rebuilt, search) == rows(source, search) == [(1,), (2,), (3,), (4,)]


def test_a_changed_language_id_is_caught_by_verify(source, tmp_path):
    target = tmp_path / "enterprise_assets.db"
    migrate(target, [source], MigrationSettings(LIMIT))
    with sqlite3.connect(target) as connection:
        connection.execute("UPDATE fts4_languageid SET lid = 99 WHERE rowid = 2")
    verified = verify_database(target, [source])
    assert not verified.ok
    assert any("fts4_languageid" in failure and "rowid 2" in failure for failure in verified.failures())


def test_a_contentless_fts4_table_is_refused_before_anything_is_written(tmp_path):
    source = make_database(tmp_path / "c.db", "CREATE VIRTUAL TABLE idx USING fts4(body, content='')",
                           "INSERT INTO idx (docid, body) VALUES (1, 'x')")
    with pytest.raises(BadInput, match="contentless full-text table 'idx'"):
        migrate(tmp_path / "new.db", [source], MigrationSettings(LIMIT))
    assert not (tmp_path / "new.db").exists()


def _fts5(path: Path) -> Path:
    return make_database(path, "CREATE VIRTUAL TABLE notes USING fts5(body)", "INSERT INTO notes VALUES ('hello')")


def _proved_and_rebuilt(target: Path, sources: list[Path], out: Path) -> None:
    assert verify_database(target, sources, LIMIT).ok and verify_database(target, [], LIMIT).ok
    out.mkdir()
    for path in sources:
        rebuild_source(target, path.name, out / path.name)
        assert sqldiff(path, out / path.name) == ""


@pytest.mark.parametrize("order", ["virtual first", "ordinary first", "one of its tables first"])
def test_tables_named_like_a_full_text_table_s_own_are_ordinary_tables(tmp_path, order):
    """SQLite calls a table a shadow table when a virtual table of its prefix exists in any
    attached schema, the consolidated set's first: a source's ordinary ``notes_data`` was
    taken for one (left out: lost), a source's own shadow tables for ordinary ones (copied,
    then its rebuild failed). Each is what it is in its own file; an ordinary table whose
    name the set's full-text table (or one of its tables) holds is kept apart, never
    merged into the module's tables, and a full-text table meeting ordinary tables of its
    tables' names is kept apart too."""
    fts = _fts5(tmp_path / "a.db")
    ordinary = make_database(
        tmp_path / "b.db",
        "CREATE TABLE notes_content (id INTEGER PRIMARY KEY, c0)", "INSERT INTO notes_content VALUES (1, 'mine')",
        "CREATE TABLE notes_data (id INTEGER PRIMARY KEY, block BLOB)", "INSERT INTO notes_data VALUES (7, x'ab')",
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body)", "INSERT INTO notes VALUES (1, 'plain')",
    )
    if order == "one of its tables first":  # the name of the full-text table is free, one of its tables' is not
        ordinary = make_database(tmp_path / "c.db", "CREATE TABLE notes_data (id INTEGER PRIMARY KEY, block BLOB)",
                                 "INSERT INTO notes_data VALUES (1, x'00')")
    sources = [fts, ordinary] if order == "virtual first" else [ordinary, fts]
    target = tmp_path / "enterprise_assets.db"
    report = migrate(target, sources, MigrationSettings(LIMIT))
    outcomes = {outcome.name: outcome for outcome in report.sources}
    assert len(outcomes[ordinary.name].tables) == (1 if order == "one of its tables first" else 3)  # none left out
    assert len(outcomes["a.db"].tables) == 1  # its own shadow tables are not copied as data
    kept_apart = {table.source_table: table.target_table for outcome in report.sources for table in outcome.tables
                  if table.target_table != table.source_table}
    assert kept_apart == ({"notes_content": "b__notes_content", "notes_data": "b__notes_data", "notes": "b__notes"}
                          if order == "virtual first" else {"notes": "a__notes"})
    fulltext = "notes" if order == "virtual first" else "a__notes"
    assert rows(target, f"SELECT count(*) FROM {fulltext} WHERE {fulltext} MATCH 'hello'") == [(1,)]
    _proved_and_rebuilt(target, sources, tmp_path / "out")


def matches(database: Path, index: str, term: str) -> list:
    connection = sqlite3.connect(database)
    try:
        return [row[0] for row in connection.execute(f"SELECT rowid FROM {index} WHERE {index} MATCH ? ORDER BY rowid",
                                                     (term,))]
    finally:
        connection.close()


@pytest.mark.parametrize("module", ["fts4", "fts5"])
def test_an_external_content_index_follows_rows_a_later_source_adds_to_its_content(tmp_path, module):
    """The index is the source's; its content table is the consolidated one, which later
    sources add to: each such write rebuilds the index, so it finds every row it holds."""
    indexed = make_database(tmp_path / "indexed.db", "CREATE TABLE docs (id INTEGER PRIMARY KEY, title, body)",
                            "INSERT INTO docs VALUES (1, 'hello', 'world')",
                            f"CREATE VIRTUAL TABLE f USING {module} (title, body, content='docs')",
                            "INSERT INTO f (f) VALUES ('rebuild')")
    more = make_database(tmp_path / "more.db", "CREATE TABLE docs (id INTEGER PRIMARY KEY, title, body)",
                         "INSERT INTO docs VALUES (3, 'new', 'row')")
    target = tmp_path / "ws" / "enterprise_assets.db"
    target.parent.mkdir()
    migrate(target, [indexed, more], MigrationSettings(LIMIT))
    assert matches(target, "f", "row") == [3] and matches(target, "f", "hello") == [1]
    check = "INSERT INTO f (f, rank) VALUES ('integrity-check', 1)" if module == "fts5" else \
        "INSERT INTO f (f) VALUES ('integrity-check')"
    with sqlite3.connect(target) as connection:
        connection.execute(check)
    connection.close()
    assert verify_database(target, [indexed, more], LIMIT).ok


def test_an_external_content_index_over_a_table_kept_apart_indexes_that_table(tmp_path):
    """The source's content table is kept apart (its key differs from the consolidated
    table's of that name): its index is recreated over the table kept apart, which holds
    its rows, not over the other source's table of the same name (which may even lack a
    column it indexes)."""
    narrow = make_database(tmp_path / "narrow.db", "CREATE TABLE docs (id INTEGER PRIMARY KEY, title)",
                           "INSERT INTO docs VALUES (1, 'alpha')")
    indexed = make_database(tmp_path / "fts.db", "CREATE TABLE docs (id TEXT PRIMARY KEY, title, body)",
                            "INSERT INTO docs VALUES ('x', 'gamma', 'delta')",
                            "CREATE VIRTUAL TABLE fd USING fts5 (title, body, content='docs')",
                            "INSERT INTO fd (fd) VALUES ('rebuild')")
    target = tmp_path / "ws" / "enterprise_assets.db"
    target.parent.mkdir()
    report = migrate(target, [narrow, indexed], MigrationSettings(LIMIT))
    assert "full-text index 'fd' rebuilt over the consolidated 'fts__docs'" in report.sources[1].notes
    assert len(matches(target, "fd", "gamma")) == 1 and matches(target, "fd", "alpha") == []
    rebuilt = tmp_path / "rebuilt.db"
    rebuild_source(target, "fts.db", rebuilt)
    assert sqldiff(indexed, rebuilt) == ""


def test_a_full_text_table_too_large_for_the_primary_is_named_and_nothing_is_written(tmp_path):
    """A virtual table is kept whole in the primary (its module's tables are not split into
    shards): one that does not fit there is named with the way on, not reported as the whole
    write meeting the cap, and the migration leaves nothing."""
    from consolidation.errors import Aborted

    sources = []
    for index in range(3):
        sources.append(make_database(
            tmp_path / f"s{index}.db", "CREATE VIRTUAL TABLE notes USING fts5(body)",
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300) "
            "INSERT INTO notes SELECT hex(randomblob(200)) FROM n"))
    target = tmp_path / "set" / "enterprise_assets.db"
    target.parent.mkdir()
    with pytest.raises(Aborted, match=r"^s\d\.db: the virtual table 'notes' does not fit under the cap in the primary "
                                      r"file, where a virtual table is kept whole .*; use a larger --limit; rolled back$"):
        migrate(target, sources, MigrationSettings(400_000))
    assert list(target.parent.iterdir()) == []
