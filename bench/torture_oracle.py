"""The oracle of the torture suite: is a trial's folder what a clean run leaves?

Judged from the outside — by the ``assetdb`` commands a user has (``verify``,
``rebuild-source``), SQLite's own ``sqldiff`` and the file system — never by the code that
wrote the set:

* ``assetdb verify`` passes (with the workspace, when there is one);
* every migrated source rebuilds ``sqldiff``-clean against its pristine copy;
* every table holds as many rows as after a clean run (nothing duplicated, nothing lost;
  the operation log is left out: killed runs may have logged steps they did commit);
* the sources are byte-identical to the pristine ones (in place or archived);
* no file is over the cap;
* no stray file: the folder lists as after a clean run (timestamped backups aside, none
  of them a temporary), and the run's private temporary folder is empty.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

ASSETDB = [sys.executable, "-m", "consolidation"]
#: Tables whose row count depends on how many runs there were, not on what they stored.
HISTORY_TABLES = {"cross_database_sync_operations"}
#: Folders of a trial that are not the product's output (the oracle's own scratch).
ORACLE_FOLDERS = ("rebuilt",)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def listing(folder: Path) -> list[str]:
    """Every path under ``folder``, relative, backups and the oracle's scratch aside."""
    names = []
    for path in folder.rglob("*"):
        relative = path.relative_to(folder)
        if relative.parts[0] in ("backups", "tmp", *ORACLE_FOLDERS):
            continue
        names.append(str(relative))
    return sorted(names)


def set_files(database: Path) -> list[Path]:
    """The primary and its numbered shards."""
    return [database, *sorted(database.parent.glob(f"{database.stem}.[0-9][0-9][0-9]{database.suffix}"))]


def table_counts(database: Path) -> dict[str, int]:
    """Rows per table over the whole set (shards summed), the history tables aside."""
    counts: dict[str, int] = {}
    for path in set_files(database):
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            tables = [name for (name,) in connection.execute(
                "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
            for table in tables:
                if table not in HISTORY_TABLES:
                    quoted = '"' + table.replace('"', '""') + '"'
                    counts[table] = counts.get(table, 0) + connection.execute(f"SELECT count(*) FROM {quoted}").fetchone()[0]
        finally:
            connection.close()
    return counts


def migrated_sources(database: Path) -> list[tuple[str, str]]:
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return connection.execute("SELECT name, original_path FROM migration_sources ORDER BY name").fetchall()
    finally:
        connection.close()


def _run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([*ASSETDB, *map(str, args)], capture_output=True, text=True)


def judge(trial, reference: dict | None, pristine: Path, cap: int) -> tuple[list[str], list[str], list[str]]:
    """(problems, leftovers, cap breaches) of a finished ``trial`` (see :mod:`torture`)."""
    problems, leftovers, breaches = [], [], []
    database = trial.database
    if not database.is_file():
        return [f"{database.name} missing after the rerun"], leftovers, breaches
    verify = ["verify", database, "--limit", str(cap), "--quiet"]
    if trial.workspace is not None:
        verify += ["--workspace", trial.workspace]
    verified = _run(*verify)
    if verified.returncode != 0:
        problems.append(f"verify: {(verified.stdout + verified.stderr).strip().splitlines()[:1]}")
    if trial.migrates:
        problems += _rebuild_problems(trial, database, pristine)
        problems += _source_problems(trial, pristine)
    if reference is not None:
        counts = table_counts(database)
        for table in sorted(set(counts) | set(reference["counts"])):
            if counts.get(table) != reference["counts"].get(table):
                problems.append(f"{table}: {counts.get(table)} rows, a clean run has {reference['counts'].get(table)}")
        extra = sorted(set(listing(trial.root)) - set(reference["listing"]))
        missing = sorted(set(reference["listing"]) - set(listing(trial.root)))
        leftovers += extra
        problems += [f"missing after the rerun: {name}" for name in missing]
    leftovers += [f"tmp/{name}" for name in os.listdir(trial.root / "tmp")]
    backups = trial.root / "backups"
    if backups.is_dir():
        leftovers += [f"backups/{path.name}" for path in backups.rglob(".*")]
    for path in trial.root.rglob("*"):
        if path.is_file() and not path.is_symlink() and path.stat().st_size > cap:
            if trial.root / "backups" not in path.parents:
                breaches.append(f"{path.relative_to(trial.root)}: {path.stat().st_size:,} bytes")
    return problems, leftovers, breaches


def _rebuild_problems(trial, database: Path, pristine: Path) -> list[str]:
    problems = []
    scratch = trial.root / "rebuilt"
    scratch.mkdir(exist_ok=True)
    sources = migrated_sources(database)
    if len(sources) != len(list(pristine.glob("*.db"))):
        problems.append(f"{len(sources)} sources in the ledger, {len(list(pristine.glob('*.db')))} given")
    for name, original in sources:
        out = scratch / f"{name}.rebuilt.db"
        out.unlink(missing_ok=True)
        rebuilt = _run("rebuild-source", database, name, "--out", out)
        if rebuilt.returncode != 0:
            problems.append(f"rebuild-source {name}: {rebuilt.stderr.strip()}")
            continue
        diff = subprocess.run(["sqldiff", str(pristine / Path(original).name), str(out)], capture_output=True, text=True)
        if diff.returncode != 0 or diff.stdout.strip():
            problems.append(f"sqldiff {name}: {(diff.stdout + diff.stderr).strip().splitlines()[:1]}")
    return problems


def _source_problems(trial, pristine: Path) -> list[str]:
    """Every pristine source is there, byte for byte, in place or in the archive."""
    problems = []
    for original in sorted(pristine.glob("*.db")):
        places = [trial.sources / original.name, trial.sources / "archive" / original.name]
        found = [place for place in places if place.is_file()]
        if not found:
            problems.append(f"{original.name}: neither in place nor archived")
        elif sha256(found[0]) != sha256(original):
            problems.append(f"{original.name}: not byte-identical to the original")
    return problems
