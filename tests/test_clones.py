"""A consolidated repository cloned elsewhere proves its own files, not the first checkout's.

The ledger records where each source was migrated from relative to the consolidated file,
so a clone (a CI runner's checkout, a colleague's) finds its own copy of every source still
in the tree, wherever the clone is, and the first checkout may be gone.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from conftest import make_database

GIT = ("git", "-c", "user.name=t", "-c", "user.email=t@example.invalid")


def run(cwd: Path, *command: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(command), cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})


def gate(repo: Path) -> subprocess.CompletedProcess:
    return run(repo, sys.executable, "-m", "pytest", "--assetdb", "databases/", "extra/", "-p", "no:cacheprovider",
               "-q", "-rA")


def tamper(path: Path, table: str) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute(f"UPDATE {table} SET v = 'tampered'")
    connection.close()


def failed(result: subprocess.CompletedProcess) -> list[str]:
    return sorted(line.split()[1] for line in result.stdout.splitlines() if line.startswith("FAILED "))


def test_a_clone_proves_its_own_sources_wherever_it_is(tmp_path):
    first = tmp_path / "first"
    make_database(first / "databases" / "s.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)",
                  "INSERT INTO t VALUES (1, 'original')")
    make_database(first / "extra" / "e.db", "CREATE TABLE u (id INTEGER PRIMARY KEY, v TEXT)",
                  "INSERT INTO u VALUES (1, 'original')")
    run(first, *GIT, "init", "-q")
    run(first, *GIT, "add", "--all")
    run(first, *GIT, "commit", "-qm", "legacy")
    consolidated = run(first, sys.executable, "-m", "consolidation", "consolidate", "databases", "extra",
                       "--workspace", ".", "--backup-dir", str(tmp_path / "backups"), "--quiet")
    assert consolidated.returncode == 0, consolidated.stderr
    run(first, *GIT, "add", "--all")
    run(first, *GIT, "commit", "-qm", "consolidated")
    with sqlite3.connect(first / "databases" / "enterprise_assets.db") as connection:
        recorded = sorted(connection.execute("SELECT name, original_path FROM migration_sources"))
    connection.close()
    assert recorded == [("e.db", "../extra/e.db"), ("s.db", "s.db")]

    clone = tmp_path / "elsewhere" / "clone"
    assert run(tmp_path, *GIT, "clone", "-q", str(first), str(clone)).returncode == 0
    assert gate(clone).returncode == 0

    tamper(clone / "databases" / "s.db", "t")  # the clone's own copy
    assert failed(gate(clone)) == ["databases/enterprise_assets.db::lossless[s.db:t]",
                                   "databases/enterprise_assets.db::rebuildable[s.db]"]
    run(clone, *GIT, "checkout", "-q", "--", ".")

    tamper(first / "databases" / "s.db", "t")  # another checkout's copy is none of the clone's business
    assert gate(clone).returncode == 0

    shutil.rmtree(first)  # as on a CI runner: the clone is all there is
    tamper(clone / "extra" / "e.db", "u")
    assert failed(gate(clone)) == ["databases/enterprise_assets.db::lossless[e.db:u]",
                                   "databases/enterprise_assets.db::rebuildable[e.db]"]
    verified = run(clone, sys.executable, "-m", "consolidation", "verify", "databases/enterprise_assets.db",
                   "--sources", "extra/e.db")
    assert verified.returncode == 1 and "differs" in verified.stdout, verified.stdout
