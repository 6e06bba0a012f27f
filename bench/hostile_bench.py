"""Benchmark: peak memory of regenerate and sync --pull on zip-bomb databases, as ratios
against a plain regenerate of the same database without the bomb, in the same run.

Each database is a real ingest of a small workspace, then one asset row added with plain
SQL whose blob is a 1 MB zlib stream of 1 GiB of zeros:

* ``10 GB declared``: refused before inflating (no blob inflates 10,000 times);
* ``2 MiB declared``: inflation stops at the declared size;
* ``1 GiB declared, wrong hash``: inflated whole, in chunks, to a temporary file, then
  refused when the hash does not match (the worst case: every byte is streamed).

Target: each bomb's peak RSS within 1.2x of the plain regenerate's (memory flat whatever
the bomb), and every bomb refused (exit 1 or 2) with nothing left in the target.
Usage: ``python bench/hostile_bench.py`` (or ``make bench``).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import timed_with_peak_memory  # noqa: E402

from consolidation.assets import ingest  # noqa: E402
from consolidation.store import initialize  # noqa: E402
from pytest_assetdb.testing import zlib_bomb  # noqa: E402

LIMIT = 99_900_000
BOMBS = {"10 GB declared": (10 * 10**9, b""), "2 MiB declared": (2 * 2**20, b""),
         "1 GiB declared, wrong hash": (2**30, b"not a gigabyte of zeros")}


def build(work: Path, name: str, bomb: bytes | None, declared: int = 0, claimed: bytes = b"") -> Path:
    workspace = work / "workspace"
    if not workspace.exists():
        (workspace / "tools").mkdir(parents=True)
        (workspace / "README.md").write_text("# Project\n")
        (workspace / "tools" / "run.sh").write_text("#!/bin/sh\necho run\n")
    database = work / f"{name.split()[0]}-{len(name)}.db"
    initialize(database, LIMIT)
    ingest(workspace, database, limit=LIMIT)
    if bomb is not None:
        connection = sqlite3.connect(database)
        connection.execute(
            "INSERT INTO script_assets (path, version, sha256, size, mode, mtime, mtime_ns, first_seen, last_changed) "
            "VALUES ('bomb.bin', 1, ?, ?, 33188, 0, 0, 'x', 'x')", (hashlib.sha256(claimed).hexdigest(), declared))
        connection.execute("INSERT INTO sqlar (name, mode, mtime, sz, data) VALUES ('bomb.bin', 33188, 0, ?, ?)",
                           (declared, bomb))
        connection.commit()
        connection.close()
    return database


def peak(command: list[str], target: Path) -> tuple[float, int, bool]:
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir()
    seconds, rss = timed_with_peak_memory([sys.executable, "-m", "consolidation", *command, "--quiet"], check=False)
    return seconds, rss, not any(target.iterdir())


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="assetdb-hostile-bench-"))
    try:
        bomb = zlib_bomb(2**30)
        plain = build(work, "plain", None)
        _, baseline, _ = peak(["regenerate", str(plain), "--out", str(work / "out")], work / "out")
        report = {"bomb_bytes": len(bomb), "plain_regenerate_peak_mb": round(baseline / 2**20, 1)}
        for name, (declared, claimed) in BOMBS.items():
            database = build(work, name, bomb, declared, claimed)
            for command in (["regenerate", str(database), "--out", str(work / "out")],
                            ["sync", str(work / "out"), "--db", str(database), "--pull"]):
                seconds, rss, empty = peak(command, work / "out")
                report[f"{command[0]} {name}"] = {"peak_mb": round(rss / 2**20, 1),
                                                  "peak_over_plain": round(rss / baseline, 2),
                                                  "seconds": round(seconds, 2), "target_left_empty": empty}
        print(json.dumps(report, indent=2))
        flat = all(entry["peak_over_plain"] <= 1.2 and entry["target_left_empty"]
                   for key, entry in report.items() if isinstance(entry, dict))
        return 0 if flat else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
