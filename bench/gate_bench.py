"""Benchmark: ``pytest --assetdb`` on the large legacy set and its consolidation, with and
without ``-n 2``.

Builds the set of ``bench/legacy_set.py``, migrates it (``assetdb migrate``), then times
the gate over both folders three ways in one run: without xdist, with ``-n 2``, and with
``-p no:xdist``. Reports the speed-up of ``-n 2`` as a ratio, and checks that the three
runs agree item by item. Usage: ``python bench/gate_bench.py [--work DIR]``.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from legacy_set import build_legacy_set  # noqa: E402
from timing import run_timed  # noqa: E402


def gate(folders: list[Path], extra: list[str], cwd: Path) -> tuple[float, dict[str, str]]:
    elapsed, result = run_timed(
        [sys.executable, "-m", "pytest", "--assetdb", *map(str, folders), "-p", "no:cacheprovider", "-rA", "-q", *extra],
        cwd,
        check=False,  # the gate is expected to fail an item: the over-cap legacy source
    )
    outcomes = dict(
        (match.group(2), match.group(1))
        for match in re.finditer(r"^(PASSED|FAILED|ERROR) (\S+)", result.stdout, re.MULTILINE)
    )
    return elapsed, outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="scratch folder (kept when given)")
    arguments = parser.parse_args(argv)
    work = arguments.work or Path(tempfile.mkdtemp(prefix="assetdb-gate-bench-"))
    sources = build_legacy_set(work / "legacy")
    consolidated = work / "consolidated"  # made anew: one a kept folder holds may be of an older version
    shutil.rmtree(consolidated, ignore_errors=True)
    consolidated.mkdir()
    subprocess.run(
        [sys.executable, "-m", "consolidation", "migrate", *map(str, sources), "--into",
         str(consolidated / "enterprise_assets.db"), "--quiet"],
        check=True,
        capture_output=True,
    )
    folders = [work / "legacy", consolidated]
    serial, serial_outcomes = gate(folders, [], work)
    parallel, parallel_outcomes = gate(folders, ["-n", "2"], work)
    plain, plain_outcomes = gate(folders, ["-p", "no:xdist"], work)
    report = {
        "items": len(serial_outcomes),
        "failed": sum(outcome != "PASSED" for outcome in serial_outcomes.values()),
        "seconds_without_xdist": round(serial, 2),
        "seconds_n2": round(parallel, 2),
        "seconds_no_xdist_plugin": round(plain, 2),
        "speedup_n2": round(serial / parallel, 2),
        "same_outcomes": serial_outcomes == parallel_outcomes == plain_outcomes,
    }
    print(json.dumps(report, indent=2))
    if arguments.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if report["same_outcomes"] else 1


if __name__ == "__main__":
    sys.exit(main())
