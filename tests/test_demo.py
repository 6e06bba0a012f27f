"""The committed demo set and ``assetdb demo``: what a new user runs first."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import folder_state
from consolidation.demo import DEMO_DATABASES, build_legacy_set
from consolidation.demo.repository import HAND_WRITTEN_LIST
from consolidation.phases import STEPS
from consolidation.sqlite import database_fingerprint, open_readonly

COMMITTED = Path(__file__).resolve().parent.parent / "databases"


def fingerprint(path: Path) -> str:
    with open_readonly(path) as connection:
        return database_fingerprint(connection)


def test_committed_databases_are_the_generators_output(tmp_path):
    """databases/ must be regenerated (and committed) whenever the generator changes."""
    fresh = build_legacy_set(tmp_path)
    assert sorted(p.name for p in COMMITTED.iterdir() if p.suffix == ".db") == list(DEMO_DATABASES)
    for path in fresh:
        assert fingerprint(COMMITTED / path.name) == fingerprint(path), path.name


def test_demo_runs_the_readme_workflow_on_a_real_layout_to_a_green_gate(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "consolidation", "demo", str(tmp_path / "demo")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for step in STEPS:
        assert re.search(rf"^   {step} +\S", out, re.MULTILINE), step
    assert "cannot consolidate 1 of 13 databases: databases/telemetry_2023.db (Git LFS pointer" in out
    assert out.count("$ pytest --assetdb databases/ --assetdb-workspace .") == 2
    assert out.count(" passed, 1 skipped") == 2 and "failed" not in out
    # the sync step prints what the command prints, its hint one that works pasted in the repository
    assert re.search(r"^   synced: 0 added, 1 changed, 0 deleted, 0 touched, \d+ unchanged$", out, re.MULTILINE)
    assert "consolidate them with `assetdb consolidate databases . --skip-unusable`" in out
    repo = tmp_path / "demo" / "repo"
    databases = repo / "databases"
    assert sorted(p.name for p in databases.iterdir()) == ["archive", "enterprise_assets.db", "telemetry_2023.db"]
    assert {p.name for p in (databases / "archive").rglob("*.db")} == {
        *DEMO_DATABASES, "empty.db", "queue.db", "scratch_tracked.db", "monitoring.db", "reports_2024.db", "app_state.db"}
    listed = (repo / "documentation" / "CONSOLIDATED_DATABASE_LIST.md").read_text()
    assert listed.startswith(HAND_WRITTEN_LIST) and "`../databases/archive/queue.db`" in listed
    assert str(tmp_path) not in listed
    assert (tmp_path / "demo" / "backups").is_dir() and not list(repo.rglob(".pytest_cache"))


def test_demo_without_a_folder_leaves_nothing_behind(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "consolidation", "demo", "--no-gate", "--quiet"],
        capture_output=True, text=True, env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "now removed" in result.stdout and list(tmp_path.iterdir()) == []


def test_demo_refuses_a_folder_in_use_and_leaves_it(assetdb, tmp_path):
    first = assetdb("demo", tmp_path / "d", "--no-gate", "--quiet")
    assert first.exit_code == 0, first.stderr
    before = folder_state(tmp_path / "d")
    again = assetdb("demo", tmp_path / "d", "--no-gate", "--quiet")
    assert again.exit_code == 2 and "already exists and is not empty" in again.stderr
    assert folder_state(tmp_path / "d") == before
