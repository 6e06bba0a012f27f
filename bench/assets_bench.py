"""Benchmark: ``assetdb ingest``/``regenerate`` against the sqlite3 shell's archive and sqlite-utils.

Corpus: the standard library of the running interpreter (without ``site-packages`` and
``__pycache__``), copied with its modes and mtimes into a scratch workspace: real code and
docs nobody here wrote. In one run, each command in its own process:

* ingest: ``assetdb ingest`` vs ``sqlite3 ARCHIVE -Ac`` vs ``sqlite-utils insert-files``;
* database size: ``enterprise_assets.db`` vs the ``sqlar`` archive;
* regenerate: ``assetdb regenerate`` vs ``sqlite3 ARCHIVE -Ax``;
* re-ingest of the unchanged tree vs the first ingest;
* and a round trip check: the regenerated tree equals the source (``diff -r``).

Targets, as ratios: ingest no slower than ``-Ac``; database no larger than the archive;
regenerate within 1.2x of ``-Ax``; re-ingest at most 10 % of the first ingest.
Usage: ``python bench/assets_bench.py`` (or ``make bench``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import timed  # noqa: E402


def copy_corpus(target: Path) -> tuple[int, int]:
    source = Path(sysconfig.get_paths()["stdlib"])
    shutil.copytree(
        source,
        target,
        symlinks=True,
        ignore=shutil.ignore_patterns("site-packages", "__pycache__", "*.pyc"),
    )
    files = [p for p in target.rglob("*") if p.is_file() or p.is_symlink()]
    return len(files), sum(p.lstat().st_size for p in files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="scratch folder (kept when given)")
    arguments = parser.parse_args(argv)
    work = arguments.work or Path(tempfile.mkdtemp(prefix="assetdb-assets-bench-"))
    shell = shutil.which("sqlite3")
    utils = shutil.which("sqlite-utils") or str(Path(sys.executable).with_name("sqlite-utils"))
    if shell is None:
        raise SystemExit("sqlite3 shell not installed (apt-get install sqlite3)")
    shutil.rmtree(work / "corpus", ignore_errors=True)
    count, size = copy_corpus(work / "corpus")
    print(f"corpus: {count} files, {size / 1e6:.1f} MB (the stdlib of Python {sys.version.split()[0]})")
    for leftover in ("assets.db", "archive.db", "files.db"):
        (work / leftover).unlink(missing_ok=True)
    assetdb = [sys.executable, "-m", "consolidation"]
    ingest = timed([*assetdb, "ingest", str(work / "corpus"), "--into", str(work / "assets.db"), "--quiet"], work)
    reingest = timed([*assetdb, "ingest", str(work / "corpus"), "--into", str(work / "assets.db"), "--quiet"], work)
    archive = timed([shell, str(work / "archive.db"), "-Ac", "."], work / "corpus")
    insert_files = None
    if Path(utils).exists():
        insert_files = timed([utils, "insert-files", str(work / "files.db"), "files", "corpus"], work)

    for folder in ("out-assetdb", "out-shell"):
        shutil.rmtree(work / folder, ignore_errors=True)
        (work / folder).mkdir()
    regenerate = timed([*assetdb, "regenerate", str(work / "assets.db"), "--out", str(work / "out-assetdb"), "--quiet"], work)
    extract = timed([shell, str(work / "archive.db"), "-Ax"], work / "out-shell")
    identical = subprocess.run(["diff", "-r", "--no-dereference", "corpus", "out-assetdb"], cwd=work,
                               capture_output=True).returncode == 0

    database_size = (work / "assets.db").stat().st_size
    archive_size = (work / "archive.db").stat().st_size
    report = {
        "files": count,
        "corpus_mb": round(size / 1e6, 1),
        "ingest_seconds": round(ingest, 2),
        "sqlite3_Ac_seconds": round(archive, 2),
        "sqlite_utils_insert_files_seconds": round(insert_files, 2) if insert_files else None,
        "ingest_over_Ac": round(ingest / archive, 2),
        "database_over_archive": round(database_size / archive_size, 3),
        "regenerate_seconds": round(regenerate, 2),
        "sqlite3_Ax_seconds": round(extract, 2),
        "regenerate_over_Ax": round(regenerate / extract, 2),
        "reingest_over_ingest": round(reingest / ingest, 3),
        "round_trip_identical": identical,
    }
    print(json.dumps(report, indent=2))
    if arguments.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
