"""dedupe-docs: duplicates and backup copies out of a legacy documentation database."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from conftest import folder_state, make_database
from consolidation.docs_cleanup import dedupe_docs
from consolidation.errors import BadInput
from consolidation.store import initialize

LIMIT = 99_900_000

DEMO_DOCS = Path(__file__).resolve().parent.parent / "databases" / "documentation.db"


@pytest.fixture
def docs(tmp_path) -> Path:
    folder = tmp_path / "repo"
    folder.mkdir()
    (folder / ".git").mkdir()
    copy = folder / "documentation.db"
    shutil.copyfile(DEMO_DOCS, copy)
    return copy


def paths(database: Path) -> list[str]:
    return [row[0] for row in sqlite3.connect(database).execute("SELECT path FROM documentation ORDER BY id")]


def test_default_writes_a_cleaned_copy_and_leaves_the_original(docs, assetdb):
    before = folder_state(docs.parent)
    result = assetdb("dedupe-docs", docs, "--out", docs.parent.parent / "clean.db")
    assert result.exit_code == 0, result.stderr
    assert "duplicate  #29 docs/README.md (same content as #1)" in result.stdout
    assert "backup     #34 README.md.bak" in result.stdout
    assert "documentation: 36 entries, 3 duplicates, 5 backup entries; 8 removed" in result.stdout
    cleaned = paths(docs.parent.parent / "clean.db")
    assert len(cleaned) == 28
    assert "README.md" in cleaned and "docs/api.md" in cleaned and "docs/scripts/autonomous_backup_manager.md" in cleaned
    assert not {"docs/README.md", "README.md.bak", "notes.md~", "backup/setup.md", "docs/api_20250716_151622.md"} & set(cleaned)
    assert folder_state(docs.parent) == before


def test_in_place_takes_a_verified_backup_first(docs, tmp_path):
    report = dedupe_docs(docs, in_place=True, backup_directory=tmp_path / "backups", limit=LIMIT)
    assert Path(report.backup).is_file() and len(paths(Path(report.backup))) == 36
    assert len(paths(docs)) == 28
    assert sqlite3.connect(docs).execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_in_place_refuses_a_backup_inside_the_workspace(docs):
    before = folder_state(docs.parent)
    with pytest.raises(BadInput, match="inside the workspace"):
        dedupe_docs(docs, in_place=True, backup_directory=docs.parent / "backups", limit=LIMIT)
    assert folder_state(docs.parent) == before


def test_dry_run_and_logging(docs, tmp_path):
    before = folder_state(docs.parent)
    report = dedupe_docs(docs, dry_run=True, limit=LIMIT)
    assert len(report.removed) == 8 and report.written is None
    assert folder_state(docs.parent) == before
    log = tmp_path / "enterprise_assets.db"
    initialize(log, 99_900_000)
    dedupe_docs(docs, out=tmp_path / "clean.db", log=log, limit=LIMIT)
    row = sqlite3.connect(log).execute(
        "SELECT counts FROM cross_database_sync_operations WHERE operation = 'dedupe-docs'"
    ).fetchone()
    assert row == ('{"backups": 5, "duplicates": 3, "rows": 36}',)


def test_backup_patterns_are_configurable(docs, tmp_path):
    (docs.parent / "pyproject.toml").write_text('[tool.assetdb]\nbackup_patterns = ["^notes"]\n')
    report = dedupe_docs(docs, dry_run=True, limit=LIMIT)
    assert [path for _, path in report.backups] == ["notes.md", "docs/api_20250716_151622.md", "notes.md~"]


def test_content_hash_column_is_enough(realworld, tmp_path):
    before = folder_state(realworld)
    report = dedupe_docs(realworld / "documentation_sync.db", out=tmp_path / "clean.db", limit=LIMIT)
    assert report.table == "documentation_files" and report.rows == 560
    remaining = sqlite3.connect(tmp_path / "clean.db").execute("SELECT count(*) FROM documentation_files").fetchone()[0]
    assert remaining == 560 - len(report.removed) and report.removed
    assert folder_state(realworld) == before


def test_bad_input(tmp_path, docs, assetdb):
    other = make_database(tmp_path / "other.db", "CREATE TABLE t (x)")
    no_docs = assetdb("dedupe-docs", other)
    assert no_docs.exit_code == 2 and "no documentation table found" in no_docs.stderr
    both = assetdb("dedupe-docs", docs, "--in-place", "--out", tmp_path / "x.db")
    assert both.exit_code == 2 and "exclude each other" in both.stderr
    (tmp_path / "taken.db").write_text("mine")
    taken = assetdb("dedupe-docs", docs, "--out", tmp_path / "taken.db")
    assert taken.exit_code == 2 and "already exists" in taken.stderr
    assert (tmp_path / "taken.db").read_text() == "mine"


def test_a_column_called_rowid_never_names_the_rows_to_delete(tmp_path):
    """Its values are not the rows' rowids: deleting by them removed a unique document the
    report never named (two of them shared the duplicate's value)."""
    database = make_database(tmp_path / "docs.db", "CREATE TABLE docs (path TEXT, content TEXT, rowid INT)",
                             "INSERT INTO docs VALUES ('a.md', 'same', 7), ('b.md', 'same', 8), ('c.md', 'unique', 8)")
    report = dedupe_docs(database, tmp_path / "cleaned.db", limit=LIMIT)
    assert [(path, canonical) for _, path, canonical in report.duplicates] == [("b.md", 1)]
    kept = sqlite3.connect(tmp_path / "cleaned.db").execute("SELECT path, rowid FROM docs ORDER BY path").fetchall()
    assert kept == [("a.md", 7), ("c.md", 8)]


@pytest.mark.parametrize("kind, said", [
    ("CREATE TABLE docs (path TEXT PRIMARY KEY, content TEXT) WITHOUT ROWID", "has no rowid to name its entries by"),
    ("CREATE TABLE t (path TEXT, content TEXT); CREATE VIEW docs AS SELECT * FROM t", "is a view"),
])
def test_a_table_without_rowids_or_a_view_is_one_line(tmp_path, assetdb, kind, said):
    database = tmp_path / "docs.db"
    connection = sqlite3.connect(database)
    connection.executescript(kind)
    connection.close()
    before = folder_state(tmp_path)
    refused = assetdb("dedupe-docs", database, "--table", "docs")
    assert refused.exit_code == 2 and said in refused.stderr and len(refused.stderr.splitlines()) == 1
    assert folder_state(tmp_path) == before


def test_a_consolidated_set_is_no_documentation_database_to_clean(tmp_path, assetdb):
    """Its documentation rows are sources' rows its ledger accounts for: deleting some made
    verify fail for good."""
    from consolidation.merge import MigrationSettings, migrate

    source = shutil.copyfile(DEMO_DOCS, tmp_path / "documentation.db")
    target = tmp_path / "set" / "enterprise_assets.db"
    target.parent.mkdir()
    migrate(target, [source], MigrationSettings(LIMIT))
    held = target.read_bytes()
    for extra in ([], ["--in-place", "--backup-dir", str(tmp_path / "backups")]):
        refused = assetdb("dedupe-docs", target, *extra)
        assert refused.exit_code == 2 and "is a file of a consolidated set" in refused.stderr
    assert target.read_bytes() == held and not list(target.parent.glob("*.cleaned.db"))


def test_an_out_that_is_a_link_is_refused_not_replaced(tmp_path, docs, assetdb):
    link = tmp_path / "dangling.db"
    link.symlink_to(tmp_path / "nowhere.db")
    refused = assetdb("dedupe-docs", docs, "--out", link)
    assert refused.exit_code == 2 and "already exists" in refused.stderr and link.is_symlink()


def test_a_log_that_is_no_consolidated_set_is_refused_before_the_copy_is_written(tmp_path, docs, assetdb):
    for log in (tmp_path / "nosuch.db", docs, tmp_path):
        refused = assetdb("dedupe-docs", docs, "--out", tmp_path / "dd.db", "--log", log)
        assert refused.exit_code == 2, refused.stderr
        assert not (tmp_path / "dd.db").exists()
