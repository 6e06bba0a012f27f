"""Benchmark: incremental sync, and ``consolidate`` against the sum of its parts.

In one run, each command in its own process:

* on the standard library corpus (as ``bench/assets_bench.py`` copies it): the first
  ``assetdb sync``, then a sync of the unchanged tree, then a sync after changing 1 % of
  the files; targets: unchanged <= 10 %, 1 % changed <= 15 % of the first sync;
* on the large legacy set of ``bench/legacy_set.py``: ``assetdb consolidate`` against
  ``migrate`` + ``verify`` + ``list`` run separately on a copy; target: within 1.5x.

Usage: ``python bench/sync_bench.py [--work DIR]`` (or ``make bench``).
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

from assets_bench import copy_corpus  # noqa: E402
from legacy_set import build_legacy_set  # noqa: E402
from timing import timed  # noqa: E402

ASSETDB = [sys.executable, "-m", "consolidation"]


def sync_figures(work: Path) -> dict:
    corpus = work / "corpus"
    shutil.rmtree(corpus, ignore_errors=True)
    count, _ = copy_corpus(corpus)
    database = work / "sync.db"
    database.unlink(missing_ok=True)
    sync = [*ASSETDB, "sync", str(corpus), "--db", str(database), "--quiet"]
    first = timed(sync)
    unchanged = timed(sync)
    changed_files = sorted(p for p in corpus.rglob("*") if p.is_file() and not p.is_symlink())[::100]  # 1 %
    for path in changed_files:
        with open(path, "ab") as handle:
            handle.write(b"\n# changed\n")
    one_percent = timed(sync)
    return {
        "files": count,
        "first_sync_seconds": round(first, 2),
        "unchanged_sync_over_first": round(unchanged / first, 3),
        "changed_files": len(changed_files),
        "one_percent_sync_over_first": round(one_percent / first, 3),
    }


def consolidate_figures(work: Path) -> dict:
    legacy = work / "legacy"
    build_legacy_set(legacy)
    results = {}
    for name in ("whole", "parts"):
        folder = work / name / "databases"
        shutil.rmtree(work / name, ignore_errors=True)
        shutil.copytree(legacy, folder)
        results[name] = sorted(folder.glob("*.db"))
    backups = work / "backups"
    whole = timed([*ASSETDB, "consolidate", str(work / "whole" / "databases"), "--backup-dir", str(backups), "--quiet"])
    sources = [str(p) for p in results["parts"]]
    target = str(work / "parts" / "databases" / "enterprise_assets.db")
    parts = sum(
        timed(command)
        for command in (
            [*ASSETDB, "migrate", *sources, "--into", target, "--backup-dir", str(backups), "--quiet"],
            [*ASSETDB, "verify", target, "--sources", *sources, "--quiet"],
            [*ASSETDB, "list", str(work / "parts" / "databases"), "--write"],
        )
    )
    return {
        "consolidate_seconds": round(whole, 2),
        "parts_seconds": round(parts, 2),
        "consolidate_over_parts": round(whole / parts, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="scratch folder (kept when given)")
    arguments = parser.parse_args(argv)
    work = arguments.work or Path(tempfile.mkdtemp(prefix="assetdb-sync-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    report = {**sync_figures(work), **consolidate_figures(work)}
    print(json.dumps(report, indent=2))
    if arguments.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
