"""The workflow fuzzer, short and seeded (``make fuzz`` runs the long one): random steps a
team takes on the demo repository, in real git, the gate and the other judges after each."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))

from workflow_fuzz import Workflow  # noqa: E402


def test_two_short_seeded_workflows_find_nothing_wrong(tmp_path):
    result = subprocess.run([sys.executable, str(BENCH / "workflow_fuzz.py"), "--seeds", "2", "--first", "3",
                             "--steps", "6", "--work", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 seeds of 6 steps: 0 problems" in result.stdout


def test_the_judges_report_a_red_gate_a_changed_regenerated_file_and_a_bad_exit(tmp_path):
    """Each judge can fail: a file edited and not synced turns the gate red; a stored file
    that is not the workspace's is named; a command refusing its input is a problem."""
    workflow = Workflow(5, tmp_path)
    workflow.build()
    assert workflow.problems == []
    notes = workflow.repo / "scripts" / "edited.py"
    notes.parent.mkdir(exist_ok=True)
    notes.write_text("print('stored')\n")
    workflow.step_edit_and_sync()
    assert workflow.problems == []
    notes.write_text("print('edited, not synced')\n")
    workflow.gate(follow_hints=False)
    assert len(workflow.problems) == 1 and "the gate is red" in workflow.problems[0]
    workflow.step_regenerate()
    assert "regenerated scripts/edited.py is not the workspace's" in workflow.problems[1]
    workflow.assetdb("migrate", "no-such.db", "--into", "databases/enterprise_assets.db")
    assert "exit 2, expected (0,)" in workflow.problems[2]
