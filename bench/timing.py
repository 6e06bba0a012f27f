"""Running a command for a benchmark: wall time, and peak memory when asked."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path


def run_timed(command: list[str], cwd: Path | None = None, check: bool = True) -> tuple[float, subprocess.CompletedProcess]:
    """Wall seconds of ``command`` and its result; a failure stops the benchmark when ``check``."""
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if check and result.returncode != 0:
        raise SystemExit(f"{' '.join(command[:5])} failed with exit {result.returncode}:\n{result.stderr[-2000:]}")
    return elapsed, result


def timed(command: list[str], cwd: Path | None = None) -> float:
    return run_timed(command, cwd)[0]


def timed_with_peak_memory(command: list[str], cwd: Path | None = None, check: bool = True) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of ``command``, run under a small wrapper process
    so that the figure is the command's own; a failure stops the benchmark when ``check``."""
    wrapper = (
        "import resource, subprocess, sys, json;"
        "code = subprocess.call(sys.argv[1:]);"
        "print(json.dumps([code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss]));"
        "sys.exit(code)"
    )
    elapsed, result = run_timed([sys.executable, "-c", wrapper, *command], cwd, check)
    _, peak_kib = json.loads(result.stdout.strip().splitlines()[-1])
    return elapsed, peak_kib * 1024
