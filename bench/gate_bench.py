"""Benchmark: ``pytest --assetdb`` on the large legacy set and its consolidation, with and
without ``-n 2``.

Builds the set of ``bench/legacy_set.py``, migrates it (``assetdb migrate``), then times
the gate over both folders three ways in one run: without xdist, with ``-n 2``, and with
``-p no:xdist``. Reports the speed-up of ``-n 2`` as a ratio, and checks that the three
runs agree item by item.

Beside it, the machine's own ceiling: two serial gates started at once, against one. On
two free cores they take as long as one, and no split of the gate can do better than
that ratio; on a machine whose second core is busy or shared, they take longer, and
``-n 2`` cannot win what the machine does not give. Each figure is the median of paired
rounds (serial, ``-n 2``, the pair, in turn). Usage: ``python bench/gate_bench.py [--work DIR]``.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from legacy_set import build_legacy_set  # noqa: E402
from timing import run_timed  # noqa: E402

ROUNDS = 3


def gate_command(folders: list[Path], extra: list[str]) -> list[str]:
    return [sys.executable, "-m", "pytest", "--assetdb", *map(str, folders), "-p", "no:cacheprovider", "-rA", "-q",
            *extra]


def gate(folders: list[Path], extra: list[str], cwd: Path) -> tuple[float, dict[str, str]]:
    # check=False: the gate is expected to fail an item, the over-cap legacy source
    elapsed, result = run_timed(gate_command(folders, extra), cwd, check=False)
    outcomes = dict(
        (match.group(2), match.group(1))
        for match in re.finditer(r"^(PASSED|FAILED|ERROR) (\S+)", result.stdout, re.MULTILINE)
    )
    return elapsed, outcomes


def _two_at_once(command: list[str], cwd: Path) -> float:
    """Wall seconds of two copies of ``command`` started together, until both are done."""
    started = time.perf_counter()
    running = [subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
               for _ in range(2)]
    for process in running:
        process.wait()
    return time.perf_counter() - started


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
    serials, parallels, pairs = [], [], []
    for _ in range(ROUNDS):
        serial, serial_outcomes = gate(folders, [], work)
        parallel, parallel_outcomes = gate(folders, ["-n", "2"], work)
        serials.append(serial)
        parallels.append(parallel)
        pairs.append(_two_at_once(gate_command(folders, []), work))
    plain, plain_outcomes = gate(folders, ["-p", "no:xdist"], work)
    speedups = [s / p for s, p in zip(serials, parallels)]
    ceilings = [2 * s / pair for s, pair in zip(serials, pairs)]
    report = {
        "items": len(serial_outcomes),
        "failed": sum(outcome != "PASSED" for outcome in serial_outcomes.values()),
        "seconds_without_xdist": round(statistics.median(serials), 2),
        "seconds_n2": round(statistics.median(parallels), 2),
        "seconds_no_xdist_plugin": round(plain, 2),
        "speedup_n2": round(statistics.median(speedups), 2),
        "machine_ceiling_two_at_once": round(statistics.median(ceilings), 2),
        "same_outcomes": serial_outcomes == parallel_outcomes == plain_outcomes,
    }
    print(json.dumps(report, indent=2))
    if arguments.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if report["same_outcomes"] else 1


if __name__ == "__main__":
    sys.exit(main())
