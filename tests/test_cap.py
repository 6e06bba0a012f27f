"""The cap configured in pyproject.toml holds for every write path: a result that would
not fit is exit 3, rolled back, and no file is left over the cap."""

from __future__ import annotations

import base64
import hashlib
import os
import random
from pathlib import Path

import pytest

from conftest import make_database
from consolidation.size import format_size

CAP = 200_000


def random_text(size: int, seed: int) -> str:
    """Text that does not compress (random bytes, base64-encoded)."""
    rng = random.Random(seed)
    return base64.b64encode(rng.randbytes(size * 3 // 4)).decode()


def state(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def no_file_over_the_cap(folder: Path) -> bool:
    return all(p.stat().st_size <= CAP for p in folder.rglob("*") if p.is_file() and ".db" in p.name)


@pytest.fixture
def project(assetdb, tmp_path, monkeypatch):
    """A project whose pyproject.toml caps every database at 200 KB, with a small consolidated set."""
    root = Path.cwd()  # the assetdb fixture runs from its own empty folder
    (root / "pyproject.toml").write_text('[tool.assetdb]\nsize_limit = "200KB"\n')
    (root / "ws").mkdir()
    (root / "ws" / "README.md").write_text("# small\n")
    (root / "ws" / "templates").mkdir()
    (root / "ws" / "templates" / "big.txt.tmpl").write_text("${a}\n${b}\n${c}\n")
    (root / "db").mkdir()
    result = assetdb("ingest", "ws", "--into", "db/enterprise_assets.db", "--quiet")
    assert result.exit_code == 0, result.stderr
    return root


def test_ingest_and_sync_of_a_file_past_the_cap_are_rolled_back(assetdb, project):
    (project / "ws" / "big.bin").write_bytes(os.urandom(300_000))
    before = state(project / "db")
    for args in (("ingest", "ws", "--into", "db/enterprise_assets.db"), ("sync", "ws", "--db", "db/enterprise_assets.db")):
        result = assetdb(*args, "--quiet")
        assert result.exit_code == 3, (args, result.stderr)
        assert "cap of 200.0 KB" in result.stderr and len(result.stderr.strip().splitlines()) == 1
        assert state(project / "db") == before and no_file_over_the_cap(project / "db")


def test_render_ingest_past_the_cap_is_rolled_back(assetdb, project):
    before = state(project / "db")
    values = [f"{name}={random_text(100_000, seed)}" for seed, name in enumerate("abc")]
    result = assetdb("render", "big.txt", "--db", "db/enterprise_assets.db", "--ingest",
                     *[arg for value in values for arg in ("--set", value)], "--out", "rendered.txt")
    assert result.exit_code == 3, result.stderr
    assert "cap of 200.0 KB" in result.stderr
    assert state(project / "db") == before and no_file_over_the_cap(project / "db")
    assert not (project / "rendered.txt").exists()


def test_migrate_past_the_cap_is_rolled_back_and_a_target_it_created_removed(assetdb, project):
    source = make_database(project / "src" / "blobs.db", "CREATE TABLE b (id INTEGER PRIMARY KEY, data BLOB)",
                           "INSERT INTO b (data) VALUES (randomblob(150000)), (randomblob(150000))")
    before = state(project / "db")
    result = assetdb("migrate", source, "--into", "db/enterprise_assets.db", "--no-partition", "--quiet")
    assert result.exit_code == 3, result.stderr
    assert state(project / "db") == before and no_file_over_the_cap(project / "db")
    (project / "new").mkdir()
    fresh = assetdb("migrate", source, "--into", "new/enterprise_assets.db", "--no-partition", "--quiet")
    assert fresh.exit_code == 3 and list((project / "new").iterdir()) == []


def test_init_and_archive_refuse_what_the_cap_cannot_hold(assetdb, project):
    tiny = assetdb("init", "tiny.db", "--limit", "10KB")
    assert tiny.exit_code == 3 and not (project / "tiny.db").exists()
    source = make_database(project / "db" / "legacy.db", "CREATE TABLE t (x)", "INSERT INTO t VALUES (1)")
    assert assetdb("migrate", source, "--into", "db/enterprise_assets.db", "--quiet").exit_code == 0
    size = (project / "db" / "enterprise_assets.db").stat().st_size
    assert assetdb("archive", source, "--db", "db/enterprise_assets.db", "--limit", str(size)).exit_code == 0


def test_archive_refuses_records_that_do_not_fit_and_moves_nothing(assetdb, project):
    """Recording the moves is rehearsed under the cap first: records that do not fit (long
    paths, a file with no room left) refuse the whole archive, nothing moved or written."""
    sources = [make_database(project / "db" / ("deep" * 30) / f"{'legacy' * 25}_{index}.db", "CREATE TABLE t (x)",
                             "INSERT INTO t VALUES (1)") for index in range(8)]
    assert assetdb("migrate", *sources, "--into", "db/enterprise_assets.db", "--quiet").exit_code == 0
    database = project / "db" / "enterprise_assets.db"
    before = database.read_bytes()
    refused = assetdb("archive", *sources, "--db", database, "--limit", str(database.stat().st_size))
    assert refused.exit_code == 3, refused.stderr
    assert refused.stderr.strip().endswith("recording 8 archived sources would take it past the cap of "
                                           f"{format_size(database.stat().st_size)}; nothing was moved")
    assert all(source.exists() for source in sources) and not (project / "db" / "archive").exists()
    assert database.read_bytes() == before


def test_archive_records_what_fits_however_near_the_cap_the_set_is(assetdb, project):
    """Twelve records take a few KB: a set 48 KB under its cap archives twelve sources (an
    estimate of 16 KB a record refused it, and a consolidation under a small cap with it)."""
    sources = [make_database(project / "db" / f"legacy_{index}.db", "CREATE TABLE t (x)",
                             "INSERT INTO t VALUES (1)") for index in range(12)]
    assert assetdb("migrate", *sources, "--into", "db/enterprise_assets.db", "--quiet").exit_code == 0
    database = project / "db" / "enterprise_assets.db"
    limit = str(database.stat().st_size + 48 * 1024)
    archived = assetdb("archive", *sources, "--db", database, "--limit", limit)
    assert archived.exit_code == 0, archived.stderr
    assert not any(source.exists() for source in sources) and database.stat().st_size < int(limit)
