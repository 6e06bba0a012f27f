"""Benchmark: ``assetdb migrate`` + ``assetdb verify`` against a plain copy and sqlite-utils.

On the large legacy set of ``bench/legacy_set.py``, in one run, each contender in its
own process (so peak memory is its own):

(a) the floor: ``ATTACH`` + ``CREATE TABLE … AS SELECT`` of every table with the
    ``sqlite3`` module, no merge, no checks, no cap;
(b) sqlite-utils inserting the same rows table by table (``insert_all``);
(c) ``assetdb migrate`` then ``assetdb verify --sources``: merged, accounted, verified,
    every file under the cap;
(d) the naive proof: ``SELECT * FROM source EXCEPT SELECT * FROM copy`` per table, over
    (a)'s copy, which is what ``verify`` is measured against.

Then the same on a set of wide rows (two sources of 80 rows of 1 MB blobs, half their
keys shared), and on a source holding one 50 MB blob, where what matters is peak memory
(for that one, against the floor's own peak: SQLite holds such a row whole to copy it).

Reported as ratios measured in the same run, never as absolute targets: migrate within
3x (a), verify within 1.2x (d), migrate + verify within 4x (a), peak RSS of every
command under 100 MB whatever the row width. On the legacy set each contender runs in
ROUNDS rounds, one after the other within a round, and each figure is the median over
the rounds of its ratio within a round (the machine's speed drifts; a single run of
each once put migrate at half its paired ratio).
Usage: ``python bench/migrate_bench.py [--work DIR]`` (or ``make bench``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import statistics
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

NAIVE_VERIFY = """
import sqlite3, sys
copy = sqlite3.connect(sys.argv[1])
for index, source in enumerate(sys.argv[2:]):
    copy.execute("ATTACH DATABASE ? AS src", (source,))
    tables = [row[0] for row in copy.execute(
        "SELECT name FROM src.sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite%'")]
    for table in tables:
        name = f"s{index}_{table}".replace('"', '""')
        quoted = table.replace('"', '""')
        copy.execute(f'SELECT count(*) FROM (SELECT * FROM src."{quoted}" EXCEPT SELECT * FROM main."{name}")').fetchone()
    copy.execute("DETACH DATABASE src")
"""

WIDE_ROWS = """
import os, sqlite3, sys
for path, first in ((sys.argv[1], 0), (sys.argv[2], 40)):
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE blobs (id INTEGER PRIMARY KEY, name TEXT, data BLOB)")
    for key in range(first, first + 80):
        connection.execute("INSERT INTO blobs VALUES (?, ?, ?)", (key, f"n{key}", os.urandom(1 << 20)))
    connection.commit()
    connection.close()
"""

HUGE_ROW = """
import os, sqlite3, sys
connection = sqlite3.connect(sys.argv[1])
connection.execute("CREATE TABLE files (id INTEGER PRIMARY KEY, name TEXT, data BLOB)")
connection.execute("INSERT INTO files VALUES (1, 'huge', ?)", (os.urandom(50 << 20),))
connection.executemany("INSERT INTO files VALUES (?, ?, ?)", ((key, f"n{key}", os.urandom(1000)) for key in range(2, 200)))
connection.commit()
connection.close()
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


def _contenders(sources: list[Path], runs: Path) -> dict[str, tuple[float, int]]:
    """Floor, naive proof, migrate and verify on ``sources``, each in its own process."""
    names = [str(path) for path in sources]
    shutil.rmtree(runs, ignore_errors=True)
    (runs / "ws").mkdir(parents=True)
    target = runs / "ws" / "enterprise_assets.db"
    assetdb = [sys.executable, "-m", "consolidation"]
    return {
        "floor": timed([sys.executable, "-c", FLOOR, str(runs / "floor.db"), *names], runs),
        "naive_verify": timed([sys.executable, "-c", NAIVE_VERIFY, str(runs / "floor.db"), *names], runs),
        "migrate": timed([*assetdb, "migrate", *names, "--into", str(target), "--quiet"], runs),
        "verify": timed([*assetdb, "verify", str(target), "--sources", *names, "--quiet"], runs),
        "verify_ledger": timed([*assetdb, "verify", str(target), "--quiet"], runs),
        "rebuild": timed([*assetdb, "rebuild-source", str(target), sources[0].name, "--out",
                          str(runs / "rebuilt.db")], runs),
    }


#: Row-count multipliers of the legacy set: time should grow in proportion.
SCALES = (0.25, 0.5, 1)


def _rows(sources: list[Path]) -> int:
    total = 0
    for path in sources:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        tables = [row[0] for row in connection.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite%'")]
        total += sum(connection.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables)
        connection.close()
    return total


ROUNDS = 3
#: The commands of ours among the contenders (the others are the yardsticks).
OURS = ("migrate", "verify", "verify_ledger", "rebuild")


def _ratios(figures: dict[str, tuple[float, int]]) -> dict[str, float]:
    seconds = {name: figure[0] for name, figure in figures.items()}
    return {
        "migrate_over_floor": round(seconds["migrate"] / seconds["floor"], 2),
        "verify_over_naive_except": round(seconds["verify"] / seconds["naive_verify"], 2),
        "migrate_and_verify_over_floor": round((seconds["migrate"] + seconds["verify"]) / seconds["floor"], 2),
    }


def _rounds(sources: list[Path], runs: Path) -> tuple[dict[str, tuple[float, int]], dict[str, float]]:
    """The contenders ROUNDS times: the median figures, and the median of each round's ratios."""
    every = [_contenders(sources, runs) for _ in range(ROUNDS)]
    figures = {name: (statistics.median(r[name][0] for r in every), max(r[name][1] for r in every))
               for name in every[0]}
    ratios = {name: round(statistics.median(_ratios(r)[name] for r in every), 2) for name in _ratios(every[0])}
    return figures, ratios


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="folder for the legacy sets and outputs (kept)")
    arguments = parser.parse_args(argv)
    work = arguments.work or Path(tempfile.mkdtemp(prefix="assetdb-bench-"))
    sources = build_legacy_set(work / "legacy")
    total = sum(path.stat().st_size for path in sources)
    print(f"legacy set: {len(sources)} databases, {total / 1e6:.1f} MB in {work / 'legacy'}")
    figures, legacy_ratios = _rounds(sources, work / "runs")
    names = [str(path) for path in sources]
    figures["sqlite_utils"] = timed([sys.executable, "-c", SQLITE_UTILS, str(work / "runs" / "utils.db"), *names])
    shards = sorted((work / "runs").glob("ws/enterprise_assets*.db"))

    wide = [work / "wide" / "blobs_a.db", work / "wide" / "blobs_b.db"]
    if not wide[0].exists():
        wide[0].parent.mkdir(parents=True, exist_ok=True)
        timed([sys.executable, "-c", WIDE_ROWS, *map(str, wide)])
    wide_figures = _contenders(wide, work / "wide-runs")
    huge = work / "huge" / "one_huge_row.db"
    if not huge.exists():
        huge.parent.mkdir(parents=True, exist_ok=True)
        timed([sys.executable, "-c", HUGE_ROW, str(huge)])
    huge_figures = _contenders([huge], work / "huge-runs")

    scaling = {}
    for scale in SCALES:
        scaled = sources if scale == 1 else build_legacy_set(work / f"legacy-x{scale}", scale)
        rows = _rows(scaled)
        runs = work / f"scale-runs-{scale}"
        shutil.rmtree(runs, ignore_errors=True)
        (runs / "ws").mkdir(parents=True)
        seconds = figures["migrate"][0] if scale == 1 else timed(
            [sys.executable, "-m", "consolidation", "migrate", *map(str, scaled), "--into",
             str(runs / "ws" / "enterprise_assets.db"), "--quiet"], runs)[0]
        scaling[str(scale)] = {"rows": rows, "migrate_seconds": round(seconds, 2),
                               "microseconds_per_row": round(seconds / rows * 1e6, 1)}

    report = {
        "legacy_bytes": total,
        "scaling": scaling,
        "seconds": {name: round(figure[0], 2) for name, figure in figures.items()},
        "ratios": legacy_ratios,
        "peak_rss_mb": {name: round(figure[1] / 2**20) for name, figure in figures.items()},
        "consolidated_files": len(shards),
        "largest_file_mb": round(max(path.stat().st_size for path in shards) / 1e6, 1),
        "wide_rows": {
            "seconds": {name: round(figure[0], 2) for name, figure in wide_figures.items()},
            "ratios": _ratios(wide_figures),
            "peak_rss_mb": {name: round(figure[1] / 2**20) for name, figure in wide_figures.items()},
        },
        "one_50mb_row": {
            "peak_rss_mb": {name: round(figure[1] / 2**20) for name, figure in huge_figures.items()},
            "peak_over_floor": {name: round(figure[1] / huge_figures["floor"][1], 2)
                                for name, figure in huge_figures.items()},
        },
    }
    print(json.dumps(report, indent=2))
    ratios, wide_ratios = report["ratios"], report["wide_rows"]["ratios"]
    peak = max(figures[name] for figures in (report["peak_rss_mb"], report["wide_rows"]["peak_rss_mb"])
               for name in OURS)
    print(
        f"migrate = {ratios['migrate_over_floor']}x the floor (target <= 3x); "
        f"verify = {ratios['verify_over_naive_except']}x the naive EXCEPT (target <= 1.2x); "
        f"migrate + verify = {ratios['migrate_and_verify_over_floor']}x the floor (target <= 4x); "
        f"wide rows: migrate {wide_ratios['migrate_over_floor']}x, verify {wide_ratios['verify_over_naive_except']}x; "
        f"peak RSS of any of our commands {peak} MB (target <= 100 MB); one 50 MB row: peak "
        f"{max(v for k, v in report['one_50mb_row']['peak_over_floor'].items() if k in OURS)}x the floor's "
        f"({report['one_50mb_row']['peak_rss_mb']['floor']} MB); "
        f"{len(shards)} files, largest {report['largest_file_mb']} MB; microseconds per row at scale "
        + ", ".join(f"{scale}: {figure['microseconds_per_row']}" for scale, figure in scaling.items())
    )
    if arguments.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
