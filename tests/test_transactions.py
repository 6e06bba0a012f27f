"""A few sources share one write transaction: all of them land, or none does."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from conftest import folder_state, make_database, sqldiff
from consolidation.errors import Aborted, BadInput
from consolidation.merge import MigrationSettings, migrate
from consolidation.proof import rebuild_source, verify_database
from consolidation.size import database_size
from consolidation.store.shards import most_shards

LIMIT = 99_900_000
CAP = 400_000


def small_source(path: Path, tag: int) -> Path:
    return make_database(
        path,
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)",
        f"INSERT INTO t VALUES ({tag}, 'own {tag}'), (0, 'shared'), (-1, 'clash {tag}')",
    )


def blob_source(path: Path, first_id: int, rows: int) -> Path:
    return make_database(
        path,
        "CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB)",
        f"WITH RECURSIVE n(i) AS (SELECT {first_id} UNION ALL SELECT i + 1 FROM n WHERE i < {first_id + rows - 1}) "
        "INSERT INTO blobs SELECT i, randomblob(20000) FROM n",
    )


def sources_recorded(target: Path) -> list[str]:
    connection = sqlite3.connect(target)
    try:
        return [name for (name,) in connection.execute("SELECT name FROM migration_sources ORDER BY id")]
    finally:
        connection.close()


def assert_proved_and_rebuilt(target: Path, sources: list[Path], limit: int, out: Path) -> None:
    assert verify_database(target, sources, limit).ok
    assert verify_database(target, [], limit).ok
    for source in sources:
        rebuilt = out / f"rebuilt-{source.name}"
        rebuild_source(target, source.name, rebuilt)
        assert sqldiff(source, rebuilt) == "", source.name


def test_a_source_refused_inside_a_shared_transaction_takes_its_companions_back_with_it(
        target, tmp_path, monkeypatch):
    """Three sources migrate in one transaction; SQLite refusing the second one's rows (a
    ledger constraint broken on purpose) is one line naming it, and the first, written
    before it in the same transaction, is rolled back too: the set is as it was before
    the three. The same run again, with nothing broken, migrates all three."""
    import consolidation.merge.engine as engine

    first = small_source(tmp_path / "first.db", 1)
    migrate(target, [first], MigrationSettings(LIMIT))
    before = hashlib.sha256(target.read_bytes()).hexdigest()
    group = [small_source(tmp_path / f"{name}.db", tag) for tag, name in enumerate(("a", "b", "c"), 2)]
    moved = engine._migrate_table

    def refused_for_b(connection, shards, plan, source_id, name, settings):
        outcome = moved(connection, shards, plan, source_id, name, settings)
        if name == "b.db":
            connection.execute("INSERT INTO main.shard_manifest (shard, file_name, created_at) VALUES (0, 'x', 'now')")
        return outcome

    monkeypatch.setattr(engine, "_migrate_table", refused_for_b)
    with pytest.raises(BadInput, match=r"b\.db: table 't' cannot be migrated \(CHECK constraint failed"):
        migrate(target, group, MigrationSettings(LIMIT), backup_directory=tmp_path / "backups")
    assert hashlib.sha256(target.read_bytes()).hexdigest() == before
    assert sources_recorded(target) == ["first.db"]

    monkeypatch.setattr(engine, "_migrate_table", moved)
    report = migrate(target, group, MigrationSettings(LIMIT), backup_directory=tmp_path / "backups")
    assert [outcome.action for outcome in report.sources] == ["migrated"] * 3
    assert sources_recorded(target) == ["first.db", "a.db", "b.db", "c.db"]
    assert_proved_and_rebuilt(target, [first, *group], LIMIT, tmp_path)


def test_sources_of_one_transaction_are_logged_one_by_one_and_an_unchanged_one_is_not_rewritten(target, tmp_path):
    """Sharing a transaction changes nothing a reader sees: each source has its own log row
    and accounting, and one already migrated and unchanged among new ones is recognised as
    such (read before the transaction, never written)."""
    old = small_source(tmp_path / "old.db", 1)
    migrate(target, [old], MigrationSettings(LIMIT))
    new = [small_source(tmp_path / f"new{tag}.db", tag) for tag in (2, 3)]
    report = migrate(target, [new[0], old, new[1]], MigrationSettings(LIMIT), backup_directory=tmp_path / "b")
    assert [(o.name, o.action) for o in report.sources] == [
        ("new2.db", "migrated"), ("old.db", "unchanged"), ("new3.db", "migrated")]
    connection = sqlite3.connect(target)
    try:
        logged = connection.execute(
            "SELECT subject FROM cross_database_sync_operations WHERE operation = 'migrate' ORDER BY id").fetchall()
        read = connection.execute("SELECT s.name, a.rows_read, a.rows_stored, a.conflicts_kept "
                                  "FROM migration_table_accounting a JOIN migration_sources s ON s.id = a.source_id "
                                  "ORDER BY s.id").fetchall()
    finally:
        connection.close()
    assert logged == [("old.db",), ("new2.db",), ("new3.db",)]
    assert read == [("old.db", 3, 3, 0), ("new2.db", 3, 1, 1), ("new3.db", 3, 1, 1)]
    assert_proved_and_rebuilt(target, [old, *new], LIMIT, tmp_path)


def test_a_group_that_runs_out_of_files_to_attach_is_migrated_a_source_at_a_time(target, tmp_path, monkeypatch):
    """Every source of a transaction holds an attachment a shard could have. Sources that,
    grouped, leave too few files for the shards their rows need, yet fit one at a time, are
    undone as a group and migrated singly: the same set as sources migrated one by one,
    every file under the cap, proved and rebuilt."""
    import consolidation.merge.run as run

    most = most_shards(sqlite3.connect(":memory:"))
    # Four sources whose rows fill most - 1 files in all (30 rows of 20 KB each, where the
    # attachment limit is ten): with the three others attached there is no room for the
    # last shards; alone, each leaves room enough.
    sources = [blob_source(tmp_path / f"s{i}.db", i * 1000, 3 * most) for i in range(4)]
    monkeypatch.setattr(run, "_share_a_transaction", lambda connection, limit, group: len(group) <= 4)
    report = migrate(target, sources, MigrationSettings(CAP))
    assert [outcome.action for outcome in report.sources] == ["migrated"] * 4
    grouped_files = sorted(path.name for path in target.parent.glob("enterprise_assets*.db"))
    assert len(grouped_files) > most - 3  # more files than a group of four leaves room for
    assert all(database_size(target.parent / name) <= CAP for name in grouped_files)
    assert_proved_and_rebuilt(target, sources, CAP, tmp_path)

    singly = tmp_path / "singly" / "enterprise_assets.db"
    singly.parent.mkdir()
    for source in sources:
        migrate(singly, [source], MigrationSettings(CAP))
    assert sorted(path.name for path in singly.parent.glob("enterprise_assets*.db")) == grouped_files
    assert sources_recorded(singly) == sources_recorded(target)


def test_a_group_refused_for_want_of_files_even_singly_writes_nothing(target, tmp_path, monkeypatch):
    """When a source does not fit even alone, the refusal is the one a single source gets,
    and nothing of its group is left behind."""
    import consolidation.merge.run as run

    most = most_shards(sqlite3.connect(":memory:"))
    monkeypatch.setattr(run, "_share_a_transaction", lambda connection, limit, group: len(group) <= 4)
    fits = blob_source(tmp_path / "fits.db", 1, 5)
    too_many = blob_source(tmp_path / "too_many.db", 10_000, 20 * (most + 2))
    with pytest.raises(Aborted, match=rf"does not fit under the cap of 400\.0 KB in {most} files"):
        migrate(target, [fits, too_many], MigrationSettings(CAP))
    assert folder_state(target.parent) == {}
