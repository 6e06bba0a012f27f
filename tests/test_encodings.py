"""Sources in UTF-16 (LE and BE) and of every page size: migrated losslessly (text compared
as text), verified, and rebuilt in their own encoding and page size, sqldiff-clean."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from conftest import sqldiff
from consolidation.merge import MigrationSettings, migrate
from consolidation.proof import rebuild_source, verify_database
from consolidation.sqlite import open_readonly, read_header

LIMIT = 99_900_000


def make_source(path: Path, encoding: str = "UTF-8", page_size: int = 4096) -> Path:
    connection = sqlite3.connect(path)
    connection.execute(f"PRAGMA encoding = '{encoding}'")
    connection.execute(f"PRAGMA page_size = {page_size}")
    connection.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT, body BLOB, score REAL)")
    connection.execute("CREATE INDEX notes_title ON notes (title)")
    connection.execute("CREATE TABLE tags (name TEXT, lang TEXT, PRIMARY KEY (name, lang)) WITHOUT ROWID")
    connection.execute("CREATE VIRTUAL TABLE search USING fts4 (body)")
    connection.execute("CREATE VIEW titles AS SELECT title FROM notes")
    connection.executemany("INSERT INTO notes (title, body, score) VALUES (?, ?, ?)", [
        ("héllo wörld ✓", b"\x00\xff\xfe", 1.5), ("日本語のテキスト", None, None), ("", b"", 0.0), (None, b"x", -2.25),
    ])
    connection.executemany("INSERT INTO tags VALUES (?, ?)", [("ä", "de"), ("über", "de"), ("ü", "tr")])
    connection.execute("INSERT INTO search VALUES ('Ünïcödé söurce text')")
    connection.execute("CREATE TRIGGER notes_touched AFTER UPDATE ON notes BEGIN SELECT 1; END")
    connection.execute("ANALYZE")
    connection.commit()
    connection.close()
    return path


@pytest.mark.parametrize("encoding", ["UTF-16le", "UTF-16be"])
def test_a_utf16_source_migrates_verifies_and_rebuilds_in_its_own_encoding(tmp_path, encoding):
    source = make_source(tmp_path / "wide.db", encoding)
    assert read_header(source).text_encoding in (2, 3)
    target = tmp_path / "enterprise_assets.db"
    migrate(target, [source], MigrationSettings(LIMIT))
    verified = verify_database(target, [source])
    assert verified.ok, verified.failures()
    rebuilt = tmp_path / "rebuilt.db"
    rebuild_source(target, "wide.db", rebuilt)
    assert sqldiff(source, rebuilt, "--vtab") == ""
    with open_readonly(rebuilt) as connection:
        assert connection.execute("PRAGMA encoding").fetchone()[0] == encoding
    assert list(tmp_path.glob("*.partial*")) == []


def test_utf16_text_is_compared_as_text_so_an_identical_utf8_row_folds(tmp_path):
    utf16 = make_source(tmp_path / "a.db", "UTF-16le")
    utf8 = make_source(tmp_path / "b.db", "UTF-8")
    target = tmp_path / "enterprise_assets.db"
    report = migrate(target, [utf16, utf8], MigrationSettings(LIMIT))
    second = {table.source_table: table for table in report.sources[1].tables}
    assert second["notes"].duplicates_folded == 4 and second["notes"].conflicts_kept == 0
    assert verify_database(target, [utf16, utf8]).ok


def test_a_changed_utf16_value_is_caught(tmp_path):
    source = make_source(tmp_path / "wide.db", "UTF-16be")
    target = tmp_path / "enterprise_assets.db"
    migrate(target, [source], MigrationSettings(LIMIT))
    with sqlite3.connect(target) as connection:
        connection.execute("UPDATE notes SET title = 'changed' WHERE id = 2")
    failures = verify_database(target, [source]).failures()
    assert any("wide.db:notes" in failure and "rowid 2" in failure for failure in failures)


@pytest.mark.parametrize("page_size", [512, 1024, 8192, 65536])
def test_every_page_size_rebuilds_as_it_was(tmp_path, page_size):
    source = make_source(tmp_path / "paged.db", page_size=page_size)
    target = tmp_path / "enterprise_assets.db"
    migrate(target, [source], MigrationSettings(LIMIT))
    assert verify_database(target, [source]).ok
    rebuilt = tmp_path / "rebuilt.db"
    rebuild_source(target, "paged.db", rebuilt)
    assert sqldiff(source, rebuilt, "--vtab") == ""
    assert read_header(rebuilt).page_size == page_size


def test_the_gate_rebuilds_a_utf16_source(pytester, tmp_path):
    folder = pytester.path / "databases"
    folder.mkdir()
    source = make_source(folder / "wide.db", "UTF-16le")
    migrate(folder / "enterprise_assets.db", [source], MigrationSettings(LIMIT))
    shutil.move(source, tmp_path / "wide.db")  # archived elsewhere: the ledger alone must prove it
    result = pytester.runpytest("--assetdb", "databases", "-p", "no:cacheprovider", "-v")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*enterprise_assets.db::lossless[[]wide.db:notes[]] PASSED*",
                                 "*enterprise_assets.db::rebuildable[[]wide.db[]] PASSED*"])


@pytest.mark.parametrize("encoding", ["UTF-16le", "UTF-16be"])
def test_a_lone_surrogate_in_utf16_text_is_migrated_and_rebuilt_as_the_same_text(tmp_path, encoding):
    """SQLite stores such a text (quick_check is ok) and converts it to UTF-8 as three
    bytes, but no Python string can carry it: the source could not be migrated at all."""
    source = tmp_path / "wide.db"
    connection = sqlite3.connect(source)
    connection.execute(f"PRAGMA encoding = '{encoding}'")
    connection.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT NOT NULL)")
    lone = "00D8" if encoding == "UTF-16le" else "D800"
    connection.execute(f"INSERT INTO t VALUES (CAST(X'{lone}' AS TEXT), 'after a surrogate'), ('é', CAST(X'{lone}' AS TEXT))")
    connection.commit()
    connection.close()
    target = tmp_path / "enterprise_assets.db"
    migrate(target, [source], MigrationSettings(LIMIT))
    verified = verify_database(target, [source])
    assert verified.ok, verified.failures()
    with sqlite3.connect(target) as consolidated:
        assert consolidated.execute("SELECT hex(k), typeof(k), typeof(v) FROM t ORDER BY rowid").fetchall() == [
            ("EDA080", "text", "text"), ("C3A9", "text", "text")]
    consolidated.close()
    rebuilt = tmp_path / "rebuilt.db"
    rebuild_source(target, "wide.db", rebuilt)
    assert sqldiff(source, rebuilt) == ""
    with sqlite3.connect(rebuilt) as connection:
        assert connection.execute("SELECT hex(k), typeof(k), hex(v) FROM t ORDER BY rowid").fetchall()[0][:2] == (
            lone, "text")
    connection.close()
