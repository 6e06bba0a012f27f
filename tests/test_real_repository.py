"""The README's workflow on a repository as messy as real ones, in real git, first try.

The repository: databases inside the workspace under Git (a ``.gitignore`` ignoring some
``*.db``, one tracked anyway), Git LFS pointer files, a zero-byte database, a corrupt one,
a ``.db`` that is not SQLite, a WAL database whose newest rows are only in its ``-wal``,
real-world databases, databases elsewhere in the tree (copies among them), a hand-written
database list under ``documentation/``, and 3,000 files more of every kind — names with
spaces, non-ASCII letters and non-breaking hyphens, symlinks, binaries.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import folder_state, make_database, sqldiff
from consolidation.demo import build_demo_repository, lfs_pointer
from consolidation.demo.repository import HAND_WRITTEN_LIST
from consolidation.sqlite.classify import (
    has_sqlite_header,
    is_database_path,
    sidecar_of,
)
from consolidation.store.owned import is_tool_file

FOLDERS = ("databases/", "archived_databases/", "deployment/production/databases/")
UNUSABLE = ("databases/broken.db", "databases/metrics_2022.db", "databases/notes.db", "databases/search_index.db",
            "databases/telemetry_2023.db")


def run(repo: Path, *command: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(list(command), cwd=repo, capture_output=True, text=True, env=environment)


def assetdb(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return run(repo, sys.executable, "-m", "consolidation", *args)


def gate(repo: Path) -> subprocess.CompletedProcess:
    return run(repo, sys.executable, "-m", "pytest", "--assetdb", "databases/", "--assetdb-workspace", ".",
               "-p", "no:cacheprovider", "-q")


def corrupt(path: Path) -> None:
    """A database whose header is fine and whose pages are not."""
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    connection.executemany("INSERT INTO t (v) VALUES (?)", [("x" * 500,)] * 200)
    connection.commit()
    connection.close()
    data = bytearray(path.read_bytes())
    data[4096 * 2: 4096 * 2 + 3000] = os.urandom(3000)
    path.write_bytes(bytes(data))


@pytest.fixture
def repository(tmp_path, realworld) -> Path:
    repo = build_demo_repository(tmp_path / "repo", extra_files=3000)
    root = repo.root
    lfs_pointer(root / "databases" / "metrics_2022.db", 7_340_032)
    corrupt(root / "databases" / "broken.db")
    (root / "databases" / "notes.db").write_text("these are notes, not a database\n" * 4)
    # SQLite reads it, and the merge cannot carry it: a contentless index stores no text
    make_database(root / "databases" / "search_index.db", "CREATE VIRTUAL TABLE f USING fts5(a, content='')",
                  "INSERT INTO f (rowid, a) VALUES (1, 'hello')")
    for name in ("documentation_sync.db", "script_generation.db", "logs_migrated_backup_20250716_151622.db"):
        shutil.copyfile(realworld / name, root / "databases" / f"gh_{name}")
    shutil.copyfile(realworld / "template_completion.db", root / "databases" / "Übersicht alt.db")
    subprocess.run(["git", "-C", str(root), "add", "--all"], check=True)
    subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.invalid",
                    "commit", "--quiet", "-m", "more of the mess"], check=True)
    return root


def tracked_files(repo: Path) -> list[str]:
    listed = subprocess.run(["git", "-C", str(repo), "ls-files", "-z"], capture_output=True, check=True).stdout
    return sorted(os.fsdecode(name) for name in listed.split(b"\0") if name)


def is_database_file(repo: Path, name: str) -> bool:
    base = sidecar_of(name)
    return (is_database_path(name) or (base is not None and is_database_path(base))
            or has_sqlite_header(repo / name) or is_tool_file(Path(name).name)
            or name == "documentation/CONSOLIDATED_DATABASE_LIST.md")  # the list the set keeps


def test_the_readme_workflow_on_a_real_repository(repository, tmp_path):
    repo = repository
    assert len(tracked_files(repo)) > 3000

    # consolidate refuses with one line naming every unusable file, and writes nothing
    before = folder_state(repo)
    refused = assetdb(repo, "consolidate", *FOLDERS, "--workspace", ".", "--backup-dir", "../backups", "--yes")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and "Traceback" not in refused.stderr
    for name in UNUSABLE:
        assert f"{name} (" in refused.stderr
    assert "run `git lfs pull`" in refused.stderr and "--skip-unusable" in refused.stderr
    assert folder_state(repo) == before and not (tmp_path / "backups").exists()

    consolidated = assetdb(repo, "consolidate", *FOLDERS, "--workspace", ".", "--backup-dir", "../backups",
                           "--yes", "--skip-unusable")
    assert consolidated.returncode == 0, consolidated.stdout + consolidated.stderr
    assert "5 left out" in consolidated.stdout
    assert "skipped 1 SQLite databases outside the consolidated set: analytics.db" in consolidated.stdout

    green = gate(repo)
    assert green.returncode == 0, green.stdout
    for name in UNUSABLE:
        assert f"skipped {name}: " in green.stdout

    database = repo / "databases" / "enterprise_assets.db"
    size = database.stat().st_size
    for _ in range(2):
        synced = assetdb(repo, "sync", ".", "--db", "databases/enterprise_assets.db")
        assert synced.returncode == 0, synced.stderr
    assert "0 added, 0 changed, 0 deleted" in synced.stdout
    assert abs(database.stat().st_size - size) <= size // 100
    assert gate(repo).returncode == 0

    # every tracked file that is not the database world's comes back byte for byte
    out = tmp_path / "regenerated"
    regenerated = assetdb(repo, "regenerate", "databases/enterprise_assets.db", "--out", str(out))
    assert regenerated.returncode == 0, regenerated.stderr
    expected = [name for name in tracked_files(repo) if not is_database_file(repo, name)]
    for name in expected:
        original, copy = repo / name, out / name
        if original.is_symlink():
            assert os.readlink(copy) == os.readlink(original), name
        else:
            assert copy.read_bytes() == original.read_bytes(), name
    assert not [path for path in out.rglob("*") if path.is_file() and has_sqlite_header(path)]

    # every archived source rebuilds to exactly what it was
    archive = repo / "databases" / "archive"
    archived = sorted(path for path in archive.rglob("*") if path.is_file() and is_database_path(path))
    assert len(archived) >= 15
    for path in archived:
        name = path.relative_to(archive).as_posix()
        rebuilt = tmp_path / "rebuilt" / name
        rebuilt.parent.mkdir(parents=True, exist_ok=True)
        result = assetdb(repo, "rebuild-source", "databases/enterprise_assets.db", name, "--out", str(rebuilt))
        assert result.returncode == 0, result.stderr
        assert sqldiff(path, rebuilt) == "", name
    with sqlite3.connect(archive / "queue.db") as connection:  # the rows that lived only in the -wal
        assert connection.execute("SELECT count(*) FROM items").fetchone()[0] == 4

    listed = (repo / "documentation" / "CONSOLIDATED_DATABASE_LIST.md").read_text()
    assert listed.startswith(HAND_WRITTEN_LIST)
    assert str(tmp_path) not in listed and "/tmp/" not in listed
    for name in UNUSABLE:
        assert f"`../{name}`" in listed

    # a bad source never leaves a target behind
    refused = assetdb(repo, "migrate", "databases/notes.db", "--into", "../new.db")
    assert refused.returncode == 2 and not (tmp_path / "new.db").exists()


def test_the_gate_stays_green_beside_looping_links_consolidate_left_out(tmp_path):
    """Two ``.db`` links pointing at each other, left out by ``consolidate --skip-unusable``:
    the gate right after is green (it read the links' ledger entries through
    ``Path.resolve()``, which raises on a loop: a collection error per database)."""
    repo = tmp_path / "repo"
    make_database(repo / "databases" / "a.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v)", "INSERT INTO t VALUES (1, 2)")
    os.symlink("loop2.db", repo / "databases" / "loop1.db")
    os.symlink("loop1.db", repo / "databases" / "loop2.db")
    _committed_repository(repo)
    consolidated = assetdb(repo, "consolidate", "databases/", "--workspace", ".", "--backup-dir",
                           str(tmp_path / "backups"), "--yes", "--skip-unusable", "--quiet")
    assert consolidated.returncode == 0, consolidated.stderr
    gated = gate(repo)
    assert gated.returncode == 0, gated.stdout + gated.stderr
    assert "Traceback" not in gated.stdout + gated.stderr


def _committed_repository(repo: Path) -> None:
    for command in (["git", "init", "-q"], ["git", "add", "-A"],
                    ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "init"]):
        assert run(repo, *command).returncode == 0


def test_a_link_leaving_the_folder_is_refused_by_consolidate_and_left_out_with_skip_unusable(tmp_path):
    """``databases/outside.db -> /elsewhere/x.db``: inventory calls it unusable, and so does
    consolidate now (it migrated the target and archived the link, a clone then having no
    copy); with ``--skip-unusable`` it is listed as skipped, and the gate is green."""
    repo = tmp_path / "repo"
    make_database(repo / "databases" / "a.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v)", "INSERT INTO t VALUES (1, 2)")
    elsewhere = make_database(tmp_path / "elsewhere" / "x.db", "CREATE TABLE t (v)", "INSERT INTO t VALUES (3)")
    os.symlink(elsewhere, repo / "databases" / "outside.db")
    _committed_repository(repo)
    backups = str(tmp_path / "backups")
    refused = assetdb(repo, "consolidate", "databases/", "--workspace", ".", "--backup-dir", backups, "--yes")
    assert refused.returncode == 2 and "symlink pointing outside databases" in refused.stderr, refused.stderr
    assert not (repo / "databases" / "enterprise_assets.db").exists()
    done = assetdb(repo, "consolidate", "databases/", "--workspace", ".", "--backup-dir", backups, "--yes",
                   "--skip-unusable", "--quiet")
    assert done.returncode == 0, done.stderr
    assert os.path.islink(repo / "databases" / "outside.db") and elsewhere.is_file()
    assert not (repo / "databases" / "archive" / "x.db").exists()
    listed = (repo / "databases" / "CONSOLIDATED_DATABASE_LIST.md").read_text()
    assert "| `outside.db` | symlink: symlink pointing outside databases" in listed
    gated = gate(repo)
    assert gated.returncode == 0, gated.stdout + gated.stderr


def test_a_link_to_another_database_of_the_folder_is_that_database(tmp_path):
    """``databases/alias.db -> main.db``: the file is migrated and archived, never the link
    (archive moved the link, which became a loop in the archive); the link follows its file
    into the archive, a link beside it, and the gate is green."""
    repo = tmp_path / "repo"
    make_database(repo / "databases" / "main.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v)",
                  "INSERT INTO t VALUES (1, 2)")
    os.symlink("main.db", repo / "databases" / "alias.db")
    _committed_repository(repo)
    done = assetdb(repo, "consolidate", "databases/", "--workspace", ".", "--backup-dir", str(tmp_path / "backups"),
                   "--yes", "--quiet")
    assert done.returncode == 0, done.stderr
    archived = repo / "databases" / "archive" / "main.db"
    alias = repo / "databases" / "archive" / "alias.db"
    assert archived.is_file() and not archived.is_symlink() and not os.path.lexists(repo / "databases" / "alias.db")
    assert os.readlink(alias) == "main.db" and alias.resolve() == archived.resolve()
    with sqlite3.connect(repo / "databases" / "enterprise_assets.db") as connection:
        assert connection.execute("SELECT name FROM migration_sources").fetchall() == [("main.db",)]
    connection.close()
    listed = (repo / "databases" / "CONSOLIDATED_DATABASE_LIST.md").read_text()
    assert "alias.db" not in listed and "| `main.db` | symlink" not in listed
    gated = gate(repo)
    assert gated.returncode == 0, gated.stdout + gated.stderr


def test_a_refused_consolidate_writes_nothing_into_an_existing_set_and_a_list_without_a_folder_is_refused_first(
        tmp_path):
    """Bad input found before the first write leaves the existing set byte for byte as it was
    (a failed run's log row was written into it), and a ``--list`` in a folder that does
    not exist is refused then, not after every source was migrated and archived."""
    repo = tmp_path / "repo"
    make_database(repo / "databases" / "a.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v)", "INSERT INTO t VALUES (1, 2)")
    _committed_repository(repo)
    backups = str(tmp_path / "backups")
    assert assetdb(repo, "consolidate", "databases/", "--workspace", ".", "--backup-dir", backups, "--yes",
                   "--quiet").returncode == 0
    primary = repo / "databases" / "enterprise_assets.db"
    before = primary.read_bytes()
    (repo / "databases" / "b.db").write_text("not sqlite\n")
    refused = assetdb(repo, "consolidate", "databases/", "--workspace", ".", "--backup-dir", backups, "--yes")
    assert refused.returncode == 2 and "nothing was written" in refused.stderr
    assert primary.read_bytes() == before
    (repo / "databases" / "b.db").unlink()
    make_database(repo / "databases" / "c.db", "CREATE TABLE t (v)", "INSERT INTO t VALUES (3)")
    no_folder = assetdb(repo, "consolidate", "databases/", "--workspace", ".", "--backup-dir", backups, "--yes",
                        "--list", "docs/DB_LIST.md")
    assert no_folder.returncode == 2 and no_folder.stderr.strip() == "assetdb: error: docs: no such folder for the database list"
    assert (repo / "databases" / "c.db").is_file() and primary.read_bytes() == before


def _listed_items(result: subprocess.CompletedProcess) -> dict[str, str]:
    return {line.split(" ")[0]: line.split(" ")[1] for line in result.stdout.splitlines()
            if "::listed " in line or "::complete " in line}


def test_the_gate_checks_the_list_the_set_keeps_and_turns_red_when_the_set_or_the_list_goes(tmp_path):
    """The set's list lives in documentation/, outside the folder the gate is given: a
    stale copy elsewhere does not make the gate give up on its listed items, a deleted list
    fails them, and a deleted consolidated set fails the list's complete item."""
    root = build_demo_repository(tmp_path / "repo").root
    made = assetdb(root, "consolidate", *FOLDERS, "--workspace", ".", "--backup-dir", "../backups", "--yes",
                   "--skip-unusable")
    assert made.returncode == 0, made.stdout + made.stderr
    the_list = root / "documentation" / "CONSOLIDATED_DATABASE_LIST.md"
    (root / "docs" / "old").mkdir(parents=True)
    shutil.copyfile(the_list, root / "docs" / "old" / "CONSOLIDATED_DATABASE_LIST.md")  # two lists now
    green = run(root, sys.executable, "-m", "pytest", "--assetdb", "databases/", "-p", "no:cacheprovider", "-v")
    assert green.returncode == 0, green.stdout
    items = _listed_items(green)
    assert items["documentation/CONSOLIDATED_DATABASE_LIST.md::complete"] == "PASSED"
    assert items["databases/enterprise_assets.db::listed"] == "PASSED" and len(items) > 5
    picked = run(root, sys.executable, "-m", "pytest", "--assetdb", "databases/enterprise_assets.db::size",
                 "-p", "no:cacheprovider", "-q")
    assert picked.returncode == 0 and "1 passed" in picked.stdout, picked.stdout  # that item only
    own = run(root, sys.executable, "-m", "pytest", "--assetdb", "documentation/CONSOLIDATED_DATABASE_LIST.md::complete",
              "-p", "no:cacheprovider", "-q")
    assert own.returncode == 0 and "1 passed" in own.stdout, own.stdout  # the list's item, by its id
    (root / "databases" / "old").mkdir()
    (root / "databases" / "old" / "CONSOLIDATED_DATABASE_LIST.md").write_text("# 2019\n\n- gone.db\n")  # no list in use
    inside = run(root / "databases", sys.executable, "-m", "pytest", "--assetdb", ".", "-p", "no:cacheprovider", "-v")
    assert inside.returncode == 0, inside.stdout  # run from the folder itself: pytest's rootdir is databases/
    assert _listed_items(inside)["../documentation/CONSOLIDATED_DATABASE_LIST.md::complete"] == "PASSED"
    assert "old/CONSOLIDATED_DATABASE_LIST.md" not in inside.stdout
    shutil.rmtree(root / "databases" / "old")

    make_database(root / "databases" / "brand_new.db", "CREATE TABLE t (id INTEGER PRIMARY KEY)")
    unlisted = run(root, sys.executable, "-m", "pytest", "--assetdb", "databases/", "-p", "no:cacheprovider", "-v")
    assert _listed_items(unlisted)["databases/brand_new.db::listed"] == "FAILED"
    assert "not listed: databases/brand_new.db is missing from" in unlisted.stdout
    (root / "databases" / "brand_new.db").unlink()

    kept = the_list.read_bytes()
    the_list.unlink()
    no_list = run(root, sys.executable, "-m", "pytest", "--assetdb", "databases/", "-p", "no:cacheprovider", "-v")
    assert no_list.returncode == 1
    assert _listed_items(no_list)["databases/enterprise_assets.db::listed"] == "FAILED"
    assert f"no database list at {the_list}" in no_list.stdout
    the_list.write_bytes(kept)

    (root / "docs" / "old" / "CONSOLIDATED_DATABASE_LIST.md").unlink()
    (root / "handbook").mkdir()
    subprocess.run(["git", "-C", str(root), "mv", str(the_list), str(root / "handbook")], check=True)  # moved
    moved = run(root, sys.executable, "-m", "pytest", "--assetdb", "databases/", "--assetdb-workspace", ".",
                "-p", "no:cacheprovider", "-v", "-rN")
    hint = next(line.split("(if it is ", 1)[1] for line in moved.stdout.splitlines() if "(if it is " in line)
    assert hint.startswith(f"{root / 'handbook' / the_list.name} now, run: assetdb list "), hint  # where it is now
    assert "reproducible[documentation] PASSED" in moved.stdout  # and not taken for a document
    subprocess.run(["git", "-C", str(root), "mv", str(root / "handbook" / the_list.name), str(the_list)], check=True)
    # with no set, only one list can say
    for path in (root / "databases").glob("enterprise_assets*.db"):
        path.unlink()
    no_set = run(root, sys.executable, "-m", "pytest", "--assetdb", "databases/", "-p", "no:cacheprovider", "-v")
    assert no_set.returncode == 1
    assert _listed_items(no_set)["documentation/CONSOLIDATED_DATABASE_LIST.md::complete"] == "FAILED"
    assert "listed but missing on disk: " in no_set.stdout and "enterprise_assets.db" in no_set.stdout


def test_a_link_to_a_source_and_an_old_hand_written_list_are_files_of_the_workspace_stored_and_regenerated(tmp_path):
    """``scripts/current_db`` (a link by another name than a database's, to a source) and an
    old hand-written copy of the list in ``docs/old/`` were left out of the set without a
    word: every tracked file but the set's own regenerates, each as it is in the tree."""
    root = build_demo_repository(tmp_path / "repo").root
    (root / "scripts").mkdir(exist_ok=True)
    (root / "scripts" / "current_db").symlink_to("../databases/queue.db")
    (root / "docs" / "old").mkdir(parents=True)
    (root / "docs" / "old" / "CONSOLIDATED_DATABASE_LIST.md").write_text("# Databases in 2023\n\n- app_state.db\n")
    subprocess.run(["git", "-C", str(root), "add", "--all"], check=True)
    subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit",
                    "--quiet", "-m", "a link and an old list"], check=True)
    made = assetdb(root, "consolidate", *FOLDERS, "--workspace", ".", "--backup-dir", "../backups", "--yes",
                   "--skip-unusable", "--list", "documentation/CONSOLIDATED_DATABASE_LIST.md")
    assert made.returncode == 0, made.stdout + made.stderr
    out = tmp_path / "regenerated"
    regenerated = assetdb(root, "regenerate", "databases/enterprise_assets.db", "--out", str(out))
    assert regenerated.returncode == 0, regenerated.stderr
    assert os.readlink(out / "scripts" / "current_db") == "../databases/queue.db"
    assert (out / "docs" / "old" / "CONSOLIDATED_DATABASE_LIST.md").read_text().startswith("# Databases in 2023")
    assert not (out / "documentation" / "CONSOLIDATED_DATABASE_LIST.md").exists()  # the set's own list
    os.symlink(root, tmp_path / "spelled")  # a list the set keeps, reached by another spelling of its path
    synced = assetdb(root, "sync", str(tmp_path / "spelled"), "--db", "databases/enterprise_assets.db")
    assert synced.returncode == 0 and "0 added" in synced.stdout, synced.stdout + synced.stderr
    green = run(root, sys.executable, "-m", "pytest", "--assetdb", "databases/", "--assetdb-workspace", ".",
                "--assetdb-list", "documentation/CONSOLIDATED_DATABASE_LIST.md", "-p", "no:cacheprovider", "-q")
    assert green.returncode == 0, green.stdout
