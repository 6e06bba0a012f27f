"""The pre-commit hooks, run by the real pre-commit in real git repositories.

pre-commit installs a hook repository the way a team's ``.pre-commit-config.yaml`` names
it: a Git repository at a revision, built into its own virtual environment. The tests make
one such repository of this project (its packaging files and the packages as imported, so
it works from a checkout and from the sdist alike) once per run, shared by the xdist
workers, so the environment is built once (about 15 s) and every run after takes a second
or two; ``try-repo`` always builds one of its own, so it runs once.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

import consolidation
import pytest_assetdb
from conftest import REALWORLD, make_database, readme_example
from consolidation.demo import build_demo_repository

ROOT = Path(__file__).resolve().parent.parent
#: What building the distribution needs besides the two packages (license-files included).
PROJECT_FILES = ("pyproject.toml", "README.md", "LICENSE", ".pre-commit-hooks.yaml", "tests/data/realworld/NOTICE.md")
IDENTITY = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
            "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}
DATABASE_FOLDERS = '["databases", "archived_databases", "deployment/production/databases"]'


@dataclass(frozen=True)
class HookSource:
    """This project as a hook repository: a path, a revision, and pre-commit's own store."""

    path: Path
    rev: str
    home: Path

    def environment(self) -> dict[str, str]:
        return {**os.environ, **IDENTITY, "PRE_COMMIT_HOME": str(self.home), "PRE_COMMIT_COLOR": "never"}


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                            env={**os.environ, **IDENTITY})
    assert result.returncode == 0, f"git {' '.join(args)}: {result.stderr}"
    return result.stdout.strip()


def _make_hook_repository(path: Path) -> None:
    for name in PROJECT_FILES:
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / name, path / name)
    for package in (consolidation, pytest_assetdb):
        source = Path(package.__file__).parent
        shutil.copytree(source, path / source.name, ignore=shutil.ignore_patterns("__pycache__"))
    git(path, "init", "--quiet")
    git(path, "add", "--all")
    git(path, "commit", "--quiet", "-m", "pytest-assetdb as a hook repository")


@pytest.fixture(scope="session")
def hook_source(tmp_path_factory) -> HookSource:
    if importlib.util.find_spec("pre_commit") is None:
        pytest.skip("pre-commit is not installed: pip install -e '.[test]' installs it")
    if shutil.which("git") is None:
        pytest.skip("git is not installed: pre-commit needs it")
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the folder every worker of this run shares
    with open(shared / "hook-repository.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = shared / "pytest-assetdb"
        if not path.is_dir():
            partial = shared / "pytest-assetdb.partial"  # renamed when whole: a failed build is never reused
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir()
            _make_hook_repository(partial)
            partial.rename(path)
    return HookSource(path, git(path, "rev-parse", "HEAD"), shared / "pre-commit-home")


@pytest.fixture
def team_repository(tmp_path) -> Path:
    """The demo repository (an LFS pointer in databases/, a stray analytics.db at the root),
    with its database folders configured."""
    root = build_demo_repository(tmp_path / "team").root
    (root / "pyproject.toml").write_text(f"[tool.assetdb]\nsize_limit = \"200KB\"\ndatabase_folders = {DATABASE_FOLDERS}\n")
    git(root, "add", "pyproject.toml")
    git(root, "commit", "--quiet", "-m", "assetdb settings")
    return root


def pre_commit(source: HookSource, repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pre_commit", *args], cwd=repo, capture_output=True, text=True,
                          env=source.environment())


def refused(output: str) -> dict[str, str]:
    """``path -> status`` for every line size-check marked as failing."""
    lines = (line.split() for line in output.splitlines())
    return {words[-1]: words[0] for words in lines if words and words[0] in ("OVER", "LFS", "STRAY", "NEAR")}


def use_hooks(source: HookSource, repo: Path, hooks: list[dict]) -> None:
    """Write and stage the ``.pre-commit-config.yaml`` a team would, naming this project."""
    config = {"repos": [{"repo": str(source.path), "rev": source.rev, "hooks": hooks}]}
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    git(repo, "add", ".pre-commit-config.yaml")


def test_try_repo_runs_the_size_check_hook_on_every_file(hook_source, team_repository):
    # try-repo builds the hook's environment in a store of its own each time: run it once.
    result = pre_commit(hook_source, team_repository, "try-repo", str(hook_source.path), "assetdb-size-check",
                        "--all-files")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "assetdb size check" in result.stdout and "Failed" in result.stdout
    assert refused(result.stdout) == {"analytics.db": "STRAY", "databases/telemetry_2023.db": "LFS"}
    assert "run `git lfs pull`" in result.stdout and "Traceback" not in result.stdout + result.stderr


def test_the_size_check_hook_refuses_what_a_staged_change_must_not_carry(hook_source, team_repository):
    repo = team_repository
    use_hooks(hook_source, repo, [{"id": "assetdb-size-check"}])
    # Only what is staged is checked: a new database in its folder passes (the committed
    # pointer and stray file are not part of this change)...
    make_database(repo / "databases" / "orders.db", "CREATE TABLE orders (id INTEGER PRIMARY KEY, total)")
    git(repo, "add", "databases/orders.db")
    staged = pre_commit(hook_source, repo, "run")
    assert staged.returncode == 0, staged.stdout + staged.stderr
    assert "Passed" in staged.stdout

    # ...and a copy outside the database folders, or a file over the cap, is refused by name.
    shutil.copyfile(REALWORLD / "template_completion.db", repo / "scripts" / "cache.sqlite")
    (repo / "databases" / "dump.bin").write_bytes(os.urandom(300_000))
    git(repo, "add", "scripts/cache.sqlite", "databases/dump.bin")
    bad = pre_commit(hook_source, repo, "run")
    assert bad.returncode == 1
    assert refused(bad.stdout) == {"scripts/cache.sqlite": "STRAY", "databases/dump.bin": "OVER"}
    assert "Traceback" not in bad.stdout + bad.stderr


def test_the_readme_config_blocks_a_commit_until_the_databases_are_sound(hook_source, team_repository):
    repo = team_repository
    [shown] = yaml.safe_load(readme_example(".pre-commit-config.yaml", "yaml"))["repos"]
    assert [hook["id"] for hook in shown["hooks"]] == ["assetdb-size-check", "assetdb-gate"]
    use_hooks(hook_source, repo, shown["hooks"])  # the README's hooks and args, from this checkout
    installed = pre_commit(hook_source, repo, "install")
    assert installed.returncode == 0, installed.stderr

    def commit(message: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", "commit", "--quiet", "-m", message], cwd=repo, capture_output=True, text=True,
                              env=hook_source.environment())

    near = make_database(repo / "databases" / "near.db", "CREATE TABLE t (x)",
                         "INSERT INTO t VALUES (zeroblob(180000))")  # about 190 KB of the 200 KB cap
    broken = repo / "databases" / "broken.db"
    broken.write_bytes(near.read_bytes()[:4096 * 3])  # a header that promises pages the file does not have
    git(repo, "add", "databases/near.db", "databases/broken.db")
    blocked = commit("near the cap, and a truncated database")
    assert blocked.returncode != 0
    output = blocked.stdout + blocked.stderr
    assert refused(output) == {"databases/near.db": "NEAR"}  # --warn 90% from the README's args
    assert "assetdb gate" in output and "FAILED databases/broken.db::integrity" in output
    assert git(repo, "diff", "--cached", "--name-only").splitlines() == [
        ".pre-commit-config.yaml", "databases/broken.db", "databases/near.db"]  # nothing was committed

    git(repo, "rm", "--quiet", "--cached", "databases/broken.db", "databases/near.db")
    make_database(repo / "databases" / "orders.db", "CREATE TABLE orders (id INTEGER PRIMARY KEY, total)")
    git(repo, "add", "databases/orders.db")
    unlisted = commit("a database the list does not name yet")
    assert unlisted.returncode != 0 and "FAILED databases/orders.db::listed" in unlisted.stderr
    [hint] = [line.split(" — run: ", 1)[1] for line in unlisted.stderr.splitlines() if line.startswith("not listed: ")]
    assert hint.startswith("assetdb list ")
    fixed = subprocess.run([sys.executable, "-m", "consolidation", *hint.split()[1:]], cwd=repo, capture_output=True,
                           text=True)  # the command the failure says to run, as printed
    assert fixed.returncode == 0, fixed.stderr
    git(repo, "add", "documentation/CONSOLIDATED_DATABASE_LIST.md")
    accepted = commit("a sound database, listed")
    # The committed LFS pointer and stray analytics.db are not part of this change: both hooks
    # judge what is staged.
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "databases/orders.db" in git(repo, "show", "--name-only", "--format=", "HEAD").splitlines()
