"""Seeded random workflows on the demo repository, in real git, judged after every step.

Each seed builds the demo repository (databases inside the workspace, Git LFS pointers, a
zero-byte and an unusable database, a WAL database with rows in its ``-wal``, databases
elsewhere in the tree, a hand-written database list), consolidates it as the README shows,
then takes random steps a team takes: edit the tree (names with spaces, non-ASCII letters
and non-breaking hyphens, binaries, symlinks that dangle or point at folders, executable
bits) and sync; sync twice; add a legacy database and consolidate again; migrate a
database that stays in place, let its application change it, and follow the gate's hint;
commit; regenerate; rebuild an archived source. Some seeds cap the set small enough that
it shards.

After every step: no command printed a traceback or an internal error or exited outside
0–3; the gate (``pytest --assetdb databases/ --assetdb-workspace .``) is green, or red with
a hint that, run as printed, makes it green; every database file is under the cap; a
second sync of an unchanged tree changes no byte; regenerated files are the workspace's;
rebuilt sources are ``sqldiff``-clean. Every problem is printed with the seed, the step
and the steps before it, and the exit status is 1 if there was any.

Usage: ``python bench/workflow_fuzz.py [--seeds N] [--first S] [--steps K] [--work DIR]``
(``make fuzz`` runs 40 seeds of 14 steps; the suite runs two short seeds).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

from consolidation.demo import build_demo_repository

FOLDERS = ["databases/", "archived_databases/", "deployment/production/databases/"]
SET = "databases/enterprise_assets.db"
NAMES = ["report", "notes", "Überblick", "naïve plan", "data‑pipeline", "a b c", "日本語", "tool"]
SUFFIXES = [".py", ".md", ".json", ".txt", ".bin", ".sh"]
CAPS = {None: 99_900_000, "400KB": 400_000}  # the cap in [tool.assetdb], as bytes


class Workflow:
    """One seed: a repository, its random steps, and the problems found."""

    def __init__(self, seed: int, work: Path):
        self.seed, self.rng = seed, random.Random(seed)
        self.root = work / f"seed-{seed}"
        shutil.rmtree(self.root, ignore_errors=True)
        self.repo = self.root / "repo"
        self.environment = {**os.environ, "ASSETDB_BACKUP_DIR": str(self.root / "backups"), "COLUMNS": "200",
                            "GIT_AUTHOR_NAME": "fuzz", "GIT_COMMITTER_NAME": "fuzz",
                            "GIT_AUTHOR_EMAIL": "fuzz@example.invalid", "GIT_COMMITTER_EMAIL": "fuzz@example.invalid"}
        self.environment.pop("PYTEST_ADDOPTS", None)
        self.cap_text = self.rng.choice(list(CAPS))
        self.in_place: list[str] = []  # databases migrated where they are (not archived)
        self.history: list[str] = []
        self.problems: list[str] = []

    # running and judging

    def run(self, *command: str, allowed=(0,)) -> subprocess.CompletedProcess:
        result = subprocess.run(list(command), cwd=self.repo, env=self.environment, capture_output=True, text=True,
                                errors="replace", timeout=600)
        output = result.stdout + result.stderr
        shown = shlex.join(command)
        if "Traceback (most recent call last)" in output or "internal error" in output:
            self.problem(f"{shown}: a traceback or an internal error\n{output[-3000:]}")
        elif result.returncode not in allowed:
            self.problem(f"{shown}: exit {result.returncode}, expected {allowed}\n{output[-3000:]}")
        return result

    def assetdb(self, *args: str, allowed=(0,)) -> subprocess.CompletedProcess:
        return self.run(sys.executable, "-m", "consolidation", *args, allowed=allowed)

    def problem(self, text: str) -> None:
        self.problems.append(f"seed {self.seed}, step {len(self.history)} ({' > '.join(self.history)}):\n{text}")

    def gate(self, follow_hints: bool = True) -> None:
        """The gate must be green; when red (and ``follow_hints``), the hints it prints, run
        as printed, must make it so."""
        for _attempt in range(3):
            result = self.run(sys.executable, "-m", "pytest", "--assetdb", "databases/", "--assetdb-workspace", ".",
                              "-p", "no:cacheprovider", "-q", "-rN", allowed=(0, 1))
            if result.returncode == 0:
                return
            if not follow_hints:
                self.problem(f"the gate is red\n{result.stdout[-3000:]}")
                return
            hints = sorted(set(re.findall(r"run: (assetdb [^\n)—]+?)(?:\)|$| —)", result.stdout, re.MULTILINE)))
            if not hints:
                self.problem(f"the gate is red with no hint to follow\n{result.stdout[-3000:]}")
                return
            for hint in hints:
                self.assetdb(*shlex.split(hint)[1:])
        self.problem(f"the gate stays red after following its hints\n{result.stdout[-3000:]}")

    def under_the_cap(self) -> None:
        cap = CAPS[self.cap_text]
        for path in self.repo.rglob("enterprise_assets*.db"):
            if path.stat().st_size > cap:
                self.problem(f"{path.relative_to(self.repo)} is {path.stat().st_size} bytes, over the cap of {cap}")

    # the repository

    def build(self) -> None:
        build_demo_repository(self.repo)
        if self.cap_text:
            (self.repo / "pyproject.toml").write_text(f'[tool.assetdb]\nsize_limit = "{self.cap_text}"\n')
        self.history.append("consolidate")
        self.assetdb("consolidate", *FOLDERS, "--workspace", ".", "--yes", "--skip-unusable", "--quiet")
        self.gate()

    def new_file_name(self) -> Path:
        folder = self.rng.choice(["", "scripts/", "documentation/", "templates/", "deep/er/"])
        name = f"{folder}{self.rng.choice(NAMES)}{self.rng.randrange(1000)}{self.rng.choice(SUFFIXES)}"
        return self.repo / name

    def assets_in_tree(self) -> list[Path]:
        """The workspace's plain files and links this workflow made or may change."""
        found = []
        for folder in ("scripts", "documentation", "templates", "deep"):
            found += [p for p in (self.repo / folder).rglob("*") if p.is_symlink() or (p.is_file() and
                      p.suffix in SUFFIXES and not p.name.startswith("CONSOLIDATED"))]
        return sorted(found)

    # the steps

    def step_edit_and_sync(self) -> None:
        for _ in range(self.rng.randint(1, 6)):
            existing = [p for p in self.assets_in_tree() if not p.is_symlink()]
            action = self.rng.choice(["add", "add", "change", "delete", "chmod", "link", "rename"])
            if action == "add" or not existing:
                path = self.new_file_name()
                path.parent.mkdir(parents=True, exist_ok=True)
                size = self.rng.choice([0, 10, 3000, 150_000])
                path.write_bytes(os.urandom(size) if path.suffix == ".bin" else
                                 ("line ‑ ü\n" * (size // 10 + 1)).encode())
            elif action == "change":
                self.rng.choice(existing).write_text(f"changed {self.rng.random()}\n")
            elif action == "delete":
                self.rng.choice(existing).unlink()
            elif action == "chmod":
                target = self.rng.choice(existing)
                target.chmod(target.stat().st_mode ^ 0o111)
            elif action == "rename":
                source = self.rng.choice(existing)
                source.rename(source.with_name(f"moved {source.name}"))
            else:
                link = self.new_file_name().with_suffix("")
                link.parent.mkdir(parents=True, exist_ok=True)
                if not link.exists() and not link.is_symlink():
                    target = self.rng.choice(["nowhere", "..", os.path.relpath(self.rng.choice(existing), link.parent)])
                    os.symlink(target, link)
        self.assetdb("sync", ".", "--db", SET, "--quiet")
        self.gate(follow_hints=False)

    def step_sync_twice(self) -> None:
        self.assetdb("sync", ".", "--db", SET, "--quiet")
        before = self.set_digest()
        self.assetdb("sync", ".", "--db", SET, "--quiet")
        if self.set_digest() != before:
            self.problem("a second sync of an unchanged tree changed the set's files")

    def set_digest(self) -> dict[str, str]:
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted((self.repo / "databases").glob("enterprise_assets*.db"))}

    def legacy_database(self, path: Path) -> None:
        """A small legacy database sharing the demo's table names, colliding on some keys."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(path) as connection:
            connection.execute("CREATE TABLE IF NOT EXISTS enterprise_metadata "
                               "(id INTEGER PRIMARY KEY, metadata_key TEXT, metadata_value TEXT)")
            connection.execute(f"CREATE TABLE IF NOT EXISTS {self.rng.choice(['events', 'notes_x', 'kv'])} "
                               "(k TEXT PRIMARY KEY, v BLOB, n REAL)")
            offset = self.rng.randrange(5)
            connection.executemany("INSERT OR REPLACE INTO enterprise_metadata VALUES (?, ?, ?)",
                                   [(offset + i, f"key{i}", self.rng.choice(["a", "b", None, "-0.0"]))
                                    for i in range(self.rng.randint(1, 40))])
        connection.close()

    def step_new_legacy_and_consolidate(self) -> None:
        self.legacy_database(self.repo / "databases" / f"legacy_{len(self.history)}.db")
        self.assetdb("consolidate", *FOLDERS, "--workspace", ".", "--yes", "--skip-unusable", "--quiet")
        self.gate()

    def step_migrate_in_place_then_change_it(self) -> None:
        name = f"deployment/app{len(self.history)}/state.db"
        self.legacy_database(self.repo / name)
        self.assetdb("migrate", name, "--into", SET, "--quiet")
        self.in_place.append(name)
        self.gate(follow_hints=False)
        self.legacy_database(self.repo / self.rng.choice(self.in_place))  # its application writes to it
        self.gate()  # red, naming `assetdb migrate … --into …`, then green

    def step_commit(self) -> None:
        self.run("git", "add", "-A")
        self.run("git", "commit", "--quiet", "--allow-empty", "-m", f"step {len(self.history)}")

    def step_regenerate(self) -> None:
        out = self.root / f"regenerated-{len(self.history)}"
        self.assetdb("regenerate", SET, "--out", str(out), "--quiet", "--allow-outside-links")
        for path in out.rglob("*"):
            original = self.repo / path.relative_to(out)
            if path.is_symlink():
                same = original.is_symlink() and os.readlink(original) == os.readlink(path)
            elif path.is_file():
                same = (original.is_file() and not original.is_symlink() and original.read_bytes() == path.read_bytes()
                        and os.access(original, os.X_OK) == os.access(path, os.X_OK))
            else:
                continue
            if not same:
                self.problem(f"regenerated {path.relative_to(out)} is not the workspace's")
        shutil.rmtree(out, ignore_errors=True)

    def step_rebuild_archived(self) -> None:
        archived = sorted((self.repo / "databases" / "archive").glob("*.db"))
        if not archived or shutil.which("sqldiff") is None:
            return
        original = self.rng.choice(archived)
        rebuilt = self.root / f"rebuilt-{original.name}"
        rebuilt.unlink(missing_ok=True)
        self.assetdb("rebuild-source", SET, original.name, "--out", str(rebuilt))
        if rebuilt.is_file():
            difference = self.run("sqldiff", str(original), str(rebuilt))
            if difference.stdout.strip():
                self.problem(f"rebuild-source {original.name} differs:\n{difference.stdout[:2000]}")

    STEPS = {"edit": step_edit_and_sync, "sync twice": step_sync_twice,
             "new legacy": step_new_legacy_and_consolidate, "migrate in place": step_migrate_in_place_then_change_it,
             "commit": step_commit, "regenerate": step_regenerate, "rebuild": step_rebuild_archived}
    WEIGHTS = [6, 2, 2, 2, 2, 2, 1]

    def go(self, steps: int) -> list[str]:
        self.build()
        for _ in range(steps):
            if len(self.problems) >= 3:
                break  # later steps would only repeat what is wrong
            name = self.rng.choices(list(self.STEPS), self.WEIGHTS)[0]
            self.history.append(name)
            self.STEPS[name](self)
            self.under_the_cap()
        return self.problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=40)
    parser.add_argument("--first", type=int, default=1)
    parser.add_argument("--steps", type=int, default=14)
    parser.add_argument("--work", type=Path, default=None, help="keep each seed's repository here")
    options = parser.parse_args()
    work = options.work or Path(tempfile.mkdtemp(prefix="assetdb-fuzz-"))
    found = 0
    for seed in range(options.first, options.first + options.seeds):
        problems = Workflow(seed, work).go(options.steps)
        found += len(problems)
        print(f"seed {seed}: {len(problems)} problems", flush=True)
        for text in problems:
            print(text, flush=True)
    print(f"{options.seeds} seeds of {options.steps} steps: {found} problems (repositories in {work})")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
