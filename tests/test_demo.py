"""The committed demo set and ``assetdb demo``: what a new user runs first."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from conftest import folder_state
from consolidation.consolidate import PHASE_NAMES
from consolidation.demo import DEMO_DATABASES, build_legacy_set
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


def test_demo_runs_every_step_and_the_gate(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "consolidation", "demo", str(tmp_path / "demo")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for phase in PHASE_NAMES:
        assert re.search(rf"^   {phase} +\S", result.stdout, re.MULTILINE), phase
    assert "pytest --assetdb" in result.stdout and "passed" in result.stdout and "failed" not in result.stdout
    databases = tmp_path / "demo" / "databases"
    assert sorted(p.name for p in databases.iterdir()) == ["CONSOLIDATED_DATABASE_LIST.md", "archive", "enterprise_assets.db"]
    assert sorted(p.name for p in (databases / "archive").glob("*.db")) == list(DEMO_DATABASES)
    backups = sorted(p.name.split(".")[0] for p in (tmp_path / "demo" / "backups").glob("*.db"))
    # every legacy database, and the consolidated one before the migration changed it
    assert backups == sorted([name.split(".")[0] for name in DEMO_DATABASES] + ["enterprise_assets"])
    assert not (databases / ".pytest_cache").exists()


def test_demo_refuses_a_folder_in_use_and_leaves_it(assetdb, tmp_path):
    first = assetdb("demo", tmp_path / "d", "--no-gate", "--quiet")
    assert first.exit_code == 0, first.stderr
    before = folder_state(tmp_path / "d")
    again = assetdb("demo", tmp_path / "d", "--no-gate", "--quiet")
    assert again.exit_code == 2 and "already exists and is not empty" in again.stderr
    assert folder_state(tmp_path / "d") == before
