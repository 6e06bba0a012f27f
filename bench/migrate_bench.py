"""Benchmark: ``assetdb migrate`` + ``assetdb verify`` against a plain copy and sqlite-utils.

On the large legacy set of ``bench/legacy_set.py``, in one run, each contender in its
own process (so peak memory is its own):

(a) the floor: ``ATTACH`` + ``CREATE TABLE … AS SELECT`` of every table with the
    ``sqlite3`` module, no merge, no checks, no cap;
(b) sqlite-utils inserting the same rows table by table (``insert_all``);
(c) ``assetdb migrate`` then ``assetdb verify --sources``: merged, accounted, verified,
    every file under the cap.

Reported as ratios against (a) measured in the same run, never as absolute targets:
(c) should stay within 3x (a) and be at least 3x faster than (b); peak RSS of (c)
under 300 MB. Usage: ``python bench/migrate_bench.py [--work DIR]`` (or ``make bench``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from legacy_set import build_legacy_set  # noqa: E402
from timing import timed_with_peak_memory as timed  # noqa: E402

FLOOR = """
import sqlite3, sys
target = sqlite3.connect(sys.argv[1], isolation_level=None)
for index, source in enumerate(sys.argv[2:]):
    target.execute("ATTACH DATABASE ? AS src", (source,))
    tables = [row[0] for row in target.execute(
        "SELECT name FROM src.sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite%'")]
    target.execute("BEGIN")
    for table in tables:
        name = f"s{index}_{table}".replace('"', '""')
        quoted = table.replace('"', '""')
        target.execute(f'CREATE TABLE "{name}" AS SELECT * FROM src."{quoted}"')
    target.execute("COMMIT")
    target.execute("DETACH DATABASE src")
"""

SQLITE_UTILS = """
import sqlite3, sys
import sqlite_utils
target = sqlite_utils.Database(sys.argv[1])
for index, source in enumerate(sys.argv[2:]):
    connection = sqlite3.connect(source)
    tables = [row[0] for row in connection.execute(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite%'")]
    for table in tables:
        cursor = connection.execute(f'SELECT * FROM "{table}"')
        columns = [d[0] for d in cursor.description]
        target[f"s{index}_{table}"].insert_all((dict(zip(columns, row)) for row in cursor), batch_size=1000)
    connection.close()
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="folder for the legacy set and outputs (kept)")
    arguments = parser.parse_args(argv)
    work = arguments.work or Path(tempfile.mkdtemp(prefix="assetdb-bench-"))
    sources = build_legacy_set(work / "legacy")
    total = sum(path.stat().st_size for path in sources)
    print(f"legacy set: {len(sources)} databases, {total / 1e6:.1f} MB in {work / 'legacy'}")
    runs = work / "runs"
    shutil.rmtree(runs, ignore_errors=True)
    runs.mkdir()
    names = [str(path) for path in sources]

    floor, floor_rss = timed([sys.executable, "-c", FLOOR, str(runs / "floor.db"), *names], runs)
    utils, utils_rss = timed([sys.executable, "-c", SQLITE_UTILS, str(runs / "utils.db"), *names], runs)
    (runs / "ws").mkdir()
    target = runs / "ws" / "enterprise_assets.db"
    assetdb = [sys.executable, "-m", "consolidation"]
    migrate, migrate_rss = timed([*assetdb, "migrate", *names, "--into", str(target), "--quiet"], runs)
    verify, verify_rss = timed([*assetdb, "verify", str(target), "--sources", *names, "--quiet"], runs)
    ours = migrate + verify
    shards = sorted(runs.glob("ws/enterprise_assets*.db"))
    largest = max(path.stat().st_size for path in shards)

    report = {
        "legacy_bytes": total,
        "floor_seconds": round(floor, 2),
        "sqlite_utils_seconds": round(utils, 2),
        "assetdb_migrate_seconds": round(migrate, 2),
        "assetdb_verify_seconds": round(verify, 2),
        "assetdb_over_floor": round(ours / floor, 2),
        "sqlite_utils_over_assetdb": round(utils / ours, 2),
        "peak_rss_mb": {
            "floor": round(floor_rss / 2**20),
            "sqlite_utils": round(utils_rss / 2**20),
            "assetdb_migrate": round(migrate_rss / 2**20),
            "assetdb_verify": round(verify_rss / 2**20),
        },
        "consolidated_files": len(shards),
        "largest_file_mb": round(largest / 1e6, 1),
    }
    print(json.dumps(report, indent=2))
    print(
        f"assetdb migrate+verify = {report['assetdb_over_floor']}x the floor (target <= 3x); "
        f"sqlite-utils = {report['sqlite_utils_over_assetdb']}x assetdb (target >= 3x); "
        f"peak RSS {max(migrate_rss, verify_rss) / 2**20:.0f} MB (target < 300 MB); "
        f"{len(shards)} files, largest {largest / 1e6:.1f} MB"
    )
    if arguments.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
