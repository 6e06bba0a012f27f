"""The demo legacy set is deterministic, never overwrites, and carries the mess it promises."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from consolidation.demo import DEMO_DATABASES, build_legacy_set
from consolidation.demo.legacy import DATABASE_BUILDERS
from consolidation.errors import BadInput

SIZE_BUDGET = 500_000
SIDECAR_SUFFIXES = ("-wal", "-shm", "-journal")
BACKUP_PATHS = {
    "docs/guide_backup.md",
    "README.md.bak",
    "backup/setup.md",
    "notes.md~",
    "docs/api_20250716_151622.md",
}


@contextmanager
def _read_only(path: Path) -> Iterator[sqlite3.Connection]:
    """Immutable read-only, so inspecting a file never leaves -wal/-shm beside it."""
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro&immutable=1", uri=True)
    try:
        yield conn
    finally:
        conn.close()


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _table_names(conn: sqlite3.Connection) -> list[str]:
    return [name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"PRAGMA table_info({_quote(table)})")]


def _rows_by_key(path: Path, table: str, key: str) -> dict[object, dict[str, object]]:
    with _read_only(path) as conn:
        cursor = conn.execute(f"SELECT * FROM {_quote(table)}")
        columns = [description[0] for description in cursor.description]
        return {row[columns.index(key)]: dict(zip(columns, row)) for row in cursor}


def _logical_content(path: Path) -> dict[str, object]:
    """Schema and every table's rows in rowid order: what must not change between runs."""
    with _read_only(path) as conn:
        schema = sorted(conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master"), key=repr)
        tables = {
            table: conn.execute(f"SELECT rowid, * FROM {_quote(table)} ORDER BY rowid").fetchall()
            for table in _table_names(conn)
        }
    return {"schema": schema, "tables": tables}


@pytest.fixture(scope="module")
def legacy_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("legacy") / "databases"
    build_legacy_set(directory)
    return directory


def test_demo_databases_is_a_small_sorted_set() -> None:
    assert list(DEMO_DATABASES) == sorted(DEMO_DATABASES)
    assert 5 <= len(DEMO_DATABASES) <= 7
    assert "documentation.db" in DEMO_DATABASES


def test_writes_exactly_the_demo_databases(tmp_path: Path) -> None:
    directory = tmp_path / "new" / "databases"

    written = build_legacy_set(directory)

    assert written == [directory / name for name in DEMO_DATABASES]
    assert sorted(path.name for path in directory.iterdir()) == list(DEMO_DATABASES)


@pytest.mark.parametrize("name", DEMO_DATABASES)
def test_each_database_passes_integrity_check(legacy_set: Path, name: str) -> None:
    with _read_only(legacy_set / name) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA page_size").fetchone() == (4096,)
        assert conn.execute("PRAGMA freelist_count").fetchone() == (0,), "not vacuumed"


def test_total_size_stays_small(legacy_set: Path) -> None:
    assert sum((legacy_set / name).stat().st_size for name in DEMO_DATABASES) < SIZE_BUDGET


def test_two_runs_give_the_same_logical_content(tmp_path: Path) -> None:
    first = build_legacy_set(tmp_path / "first")
    second = build_legacy_set(tmp_path / "second")

    for first_path, second_path in zip(first, second, strict=True):
        assert _logical_content(first_path) == _logical_content(second_path), first_path.name


def test_refuses_to_overwrite_an_existing_set(tmp_path: Path) -> None:
    written = build_legacy_set(tmp_path)
    before = {path: path.read_bytes() for path in written}

    with pytest.raises(BadInput):
        build_legacy_set(tmp_path)

    assert {path: path.read_bytes() for path in written} == before
    assert sorted(path.name for path in tmp_path.iterdir()) == list(DEMO_DATABASES)


@pytest.mark.parametrize("existing", ["monitoring.db", "learning_monitor.db-wal"])
def test_refuses_before_writing_anything_when_one_target_or_its_journal_exists(
    tmp_path: Path, existing: str
) -> None:
    (tmp_path / existing).write_bytes(b"not ours")

    with pytest.raises(BadInput, match=existing):
        build_legacy_set(tmp_path)

    assert [path.name for path in tmp_path.iterdir()] == [existing]
    assert (tmp_path / existing).read_bytes() == b"not ours"


def test_a_failed_build_leaves_no_partial_file_under_its_final_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash_halfway(conn: sqlite3.Connection) -> None:
        conn.execute('CREATE TABLE "half_written" ("id" INTEGER PRIMARY KEY)')
        raise RuntimeError("simulated crash")

    monkeypatch.setitem(DATABASE_BUILDERS, "monitoring.db", crash_halfway)

    with pytest.raises(RuntimeError, match="simulated crash"):
        build_legacy_set(tmp_path)

    assert sorted(path.name for path in tmp_path.iterdir()) == [
        name for name in DEMO_DATABASES if name < "monitoring.db"
    ]


def test_exactly_one_file_is_in_wal_mode_and_left_clean(legacy_set: Path) -> None:
    wal_files = [name for name in DEMO_DATABASES if (legacy_set / name).read_bytes()[18:20] == b"\x02\x02"]

    assert wal_files == ["learning_monitor.db"]
    assert not [path.name for path in legacy_set.iterdir() if path.name.endswith(SIDECAR_SUFFIXES)]


def test_shared_table_has_a_colliding_key_across_files(legacy_set: Path) -> None:
    development = _rows_by_key(legacy_set / "development.db", "regeneration_patterns", "pattern_id")
    monitoring = _rows_by_key(legacy_set / "monitoring.db", "regeneration_patterns", "pattern_id")

    colliding = [
        key
        for key in development.keys() & monitoring.keys()
        if any(development[key][column] != monitoring[key][column] for column in development[key])
    ]

    assert colliding


def test_shared_table_has_an_identical_duplicate_row_across_files(legacy_set: Path) -> None:
    development = _rows_by_key(legacy_set / "development.db", "regeneration_patterns", "pattern_id")
    analytics = _rows_by_key(legacy_set / "analytics_collector.db", "regeneration_patterns", "pattern_id")

    assert [key for key in development.keys() & analytics.keys() if development[key] == analytics[key]]


def test_shared_tables_drift_apart_in_schema(legacy_set: Path) -> None:
    column_sets: dict[str, list[tuple[str, ...]]] = {}
    for name in DEMO_DATABASES:
        with _read_only(legacy_set / name) as conn:
            for table in _table_names(conn):
                column_sets.setdefault(table, []).append(tuple(_columns(conn, table)))

    for table in ("enterprise_metadata", "integration_tracking"):
        assert len(column_sets[table]) >= 3, f"{table} is in fewer than three files"
    for table in ("enterprise_metadata", "integration_tracking", "regeneration_patterns"):
        assert len(set(column_sets[table])) >= 2, f"{table} has one schema everywhere"


def test_documentation_holds_duplicates_and_backups(legacy_set: Path) -> None:
    with _read_only(legacy_set / "documentation.db") as conn:
        entries = conn.execute('SELECT "path", "content" FROM "documentation"').fetchall()

    paths = {path for path, _ in entries}
    assert BACKUP_PATHS <= paths
    paths_by_content: dict[str, list[str]] = {}
    for path, content in entries:
        paths_by_content.setdefault(content, []).append(path)
    assert any(len(same) >= 2 for same in paths_by_content.values())


def test_templates_use_dollar_brace_placeholders(legacy_set: Path) -> None:
    with _read_only(legacy_set / "template_completion.db") as conn:
        contents = [content for (content,) in conn.execute('SELECT "template_content" FROM "templates"')]

    assert contents and all("${" in content for content in contents)


def test_internal_tables_index_and_view_are_present(legacy_set: Path) -> None:
    schema: dict[str, set[tuple[str, str]]] = {}
    for name in DEMO_DATABASES:
        with _read_only(legacy_set / name) as conn:
            schema[name] = set(conn.execute("SELECT type, name FROM sqlite_master"))

    everything = set().union(*schema.values())
    assert ("table", "sqlite_sequence") in everything
    assert ("table", "sqlite_stat1") in schema["development.db"]
    assert any(kind == "view" for kind, _ in everything)
    assert any(kind == "index" and not name.startswith("sqlite_autoindex") for kind, name in everything)


def test_odd_values_and_identifiers_are_present(legacy_set: Path) -> None:
    with _read_only(legacy_set / "learning_monitor.db") as conn:
        value_types = conn.execute(
            'SELECT group_concat(DISTINCT typeof("fingerprint")), group_concat(DISTINCT typeof("confidence")),'
            ' sum("fingerprint" = x\'\') FROM "learned_patterns"'
        ).fetchone()
    with _read_only(legacy_set / "template_completion.db") as conn:
        default_columns = _columns(conn, "placeholder defaults")

    fingerprint_types, confidence_types, empty_blobs = value_types
    assert set(fingerprint_types.split(",")) == {"blob", "null"}
    assert confidence_types == "real"
    assert empty_blobs == 1
    assert "placeholder name" in default_columns and "default value" in default_columns
