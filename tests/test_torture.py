"""The torture suite, short and seeded: a few SIGKILLs of each writing command, each rerun and
judged by the full oracle, and writers and readers side by side (``make torture`` runs the
long one). Real processes, real SIGKILLs, real files."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

TORTURE = Path(__file__).resolve().parents[1] / "bench" / "torture.py"


def torture(tmp_path: Path, *args: str) -> dict[str, list[int]]:
    return run_torture(tmp_path, *args)[0]


def run_torture(tmp_path: Path, *args: str) -> tuple[dict[str, list[int]], str]:
    """Run the suite; the figures of each row of its table (tried, killed, killed again,
    problems, leftovers, cap breaches), after checking it exited 0 (all clean), and its output."""
    result = subprocess.run([sys.executable, str(TORTURE), "--scale", "tiny", "--work", str(tmp_path / "work"), *args],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {}
    for line in result.stdout.splitlines():
        match = re.match(r"^\| ([^|]+?) \| (\d+) \| (\d+) \| (\d+) \| (\d+) \| (\d+) \| (\d+) \|$", line)
        if match:
            rows[match.group(1)] = [int(figure) for figure in match.groups()[1:]]
    return rows, result.stdout


def test_a_few_seeded_sigkills_of_each_command_leave_nothing_wrong(tmp_path):
    rows, output = run_torture(tmp_path, "--kills", "2", "--seed", "7", "--no-side-by-side")
    assert sorted(rows) == ["SIGKILL consolidate --yes", "SIGKILL ingest", "SIGKILL migrate", "SIGKILL sync"], output
    for name, (tried, killed, _again, problems, leftovers, breaches) in rows.items():
        assert tried == 2 and killed <= tried, (name, output)
        assert (problems, leftovers, breaches) == (0, 0, 0), (name, output)
    assert sum(figures[1] for figures in rows.values()) > 0, output  # some runs really were killed midway


def test_writers_and_readers_side_by_side(tmp_path):
    rows = torture(tmp_path, "--kills", "0")
    assert sorted(rows) == ["gate during sync", "sync + sync", "sync during consolidate"]
    for name, (tried, _killed, _again, problems, leftovers, breaches) in rows.items():
        assert tried == 1 and (problems, leftovers, breaches) == (0, 0, 0), name


def test_every_writing_command_onto_a_full_disk(tmp_path):
    rows, output = run_torture(tmp_path, "--kills", "0", "--no-side-by-side", "--full-disk")
    if "full disk: skipped" in output:
        pytest.skip(output.split("full disk: skipped", 1)[1].strip())
    [(tried, _killed, _again, problems, leftovers, breaches)] = rows.values()
    assert tried == 5 and (problems, leftovers, breaches) == (0, 0, 0)
