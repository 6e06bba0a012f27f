"""Torture: seeded random SIGKILLs of every writing command, each followed by a rerun and the
full oracle (:mod:`torture_oracle`), plus writers and readers side by side.

For each of ``migrate``, ``consolidate --yes``, ``ingest`` and ``sync``, on a legacy set
from ``bench/legacy_set.py`` (at a chosen scale) and a generated workspace, with a cap
small enough that the set is partitioned into shards: a clean run gives the reference
(its duration, its row counts, its listing); then each trial starts the command on a
fresh copy, SIGKILLs it after a random delay within that duration, sometimes kills the
rerun too, reruns it to the end and judges the folder. Then: two syncs at once, a sync
while consolidate runs, the gate while a sync commits. Prints a table: tried, killed
mid-run, problems, leftovers, cap breaches. With ``--full-disk`` (root: a tmpfs is mounted),
every writing command also runs onto a file system with no room left: exit 3, one line, the
folder as it was. Exit 0 only when problems, leftovers and breaches are all zero.

Usage: ``python bench/torture.py [--kills N] [--scale tiny|moderate] [--seed S] [--work DIR]``
(``make torture`` runs 30 kills per command at the moderate scale).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from legacy_set import build_source  # noqa: E402
from torture_oracle import ASSETDB, judge, listing, table_counts  # noqa: E402

#: sources, rows per source, workspace files, cap (bytes): the cap makes the set shard.
SCALES = {
    "tiny": (3, 300, 24, 1_000_000),
    "moderate": (8, 3_000, 240, 4_000_000),
}
COMMANDS = ("migrate", "consolidate", "ingest", "sync")
RERUN_KILL_CHANCE = 0.25


@dataclass
class Trial:
    """One trial's folder: ``root`` holds ``tmp`` (its TMPDIR), ``backups`` and the data."""

    command: str
    root: Path
    argv: list[str]
    database: Path
    sources: Path | None = None
    workspace: Path | None = None

    @property
    def migrates(self) -> bool:
        return self.command in ("migrate", "consolidate")

    def env(self) -> dict:
        return {**os.environ, "TMPDIR": str(self.root / "tmp")}


@dataclass
class Tally:
    tried: int = 0
    killed: int = 0
    killed_again: int = 0
    problems: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    breaches: list[str] = field(default_factory=list)

    def record(self, problems, leftovers, breaches, label: str) -> None:
        """Add what the oracle found in one trial, each line labelled with the trial."""
        self.problems += [f"{label}: {problem}" for problem in problems]
        self.leftovers += [f"{label}: {leftover}" for leftover in leftovers]
        self.breaches += [f"{label}: {breach}" for breach in breaches]


def build_base(base: Path, scale: str) -> None:
    """Pristine sources, a workspace, a workspace changed for sync, and a synced set."""
    sources, rows, files, cap = SCALES[scale]
    (base / "pristine").mkdir(parents=True)
    for index in range(sources):
        build_source(base / "pristine" / f"legacy_{index:02d}.db", index + 1, rows)
    rng = random.Random(1)
    workspace = base / "ws"
    for index in range(files):
        folder = workspace / ("scripts" if index % 3 == 0 else "docs" if index % 3 == 1 else "templates")
        folder.mkdir(parents=True, exist_ok=True)
        suffix = {"scripts": ".py", "docs": ".md", "templates": ".tmpl"}[folder.name]
        body = "".join(rng.choice("abcdefghij \n") for _ in range(rng.randint(200, 6000)))
        (folder / f"file_{index:04d}{suffix}").write_text(body)
    (workspace / "data.bin").write_bytes(rng.randbytes(600_000))  # does not compress
    synced = base / "synced"
    synced.mkdir()
    subprocess.run([*ASSETDB, "ingest", str(workspace), "--into", str(synced / "enterprise_assets.db"),
                    "--limit", str(cap), "--quiet"], check=True, capture_output=True)
    changed = base / "ws-changed"
    shutil.copytree(workspace, changed, symlinks=True)
    for path in sorted(changed.rglob("*.md"))[::4]:
        path.unlink()  # deleted
    for path in sorted(changed.rglob("*.py"))[::3]:
        path.write_text(path.read_text() + "\n# changed\n")  # changed
    for index in range(files // 5):
        (changed / "docs" / f"new_{index:04d}.md").write_text(f"# new {index}\n" + "words " * 300)  # added
    (changed / "templates" / "file_0002.tmpl").rename(changed / "templates" / "renamed.tmpl")  # renamed


def make_trial(base: Path, root: Path, command: str, cap: int) -> Trial:
    """A fresh copy of what ``command`` starts from, and its command line."""
    shutil.rmtree(root, ignore_errors=True)
    for folder in ("tmp", "backups"):
        (root / folder).mkdir(parents=True)
    quiet, limit = ["--quiet"], ["--limit", str(cap)]
    if command == "migrate":
        shutil.copytree(base / "pristine", root / "databases")
        database = root / "set" / "enterprise_assets.db"
        database.parent.mkdir()
        argv = ["migrate", *map(str, sorted((root / "databases").glob("*.db"))), "--into", str(database),
                "--backup-dir", str(root / "backups"), *limit, *quiet]
        return Trial(command, root, argv, database, sources=root / "databases")
    if command == "consolidate":
        repo = root / "repo"
        shutil.copytree(base / "ws", repo, symlinks=True)
        shutil.copytree(base / "pristine", repo / "databases")
        database = repo / "databases" / "enterprise_assets.db"
        argv = ["consolidate", str(repo / "databases"), "--workspace", str(repo), "--yes",
                "--backup-dir", str(root / "backups"), *limit, *quiet]
        return Trial(command, root, argv, database, sources=repo / "databases", workspace=repo)
    workspace = root / "ws"
    database = root / "set" / "enterprise_assets.db"
    if command == "ingest":
        shutil.copytree(base / "ws", workspace, symlinks=True)
        database.parent.mkdir()
        argv = ["ingest", str(workspace), "--into", str(database), *limit, *quiet]
    else:
        shutil.copytree(base / "ws-changed", workspace, symlinks=True)
        shutil.copytree(base / "synced", database.parent)
        argv = ["sync", str(workspace), "--db", str(database), *limit, *quiet]
    return Trial(command, root, argv, database, workspace=workspace)


def start(trial: Trial) -> subprocess.Popen:
    return subprocess.Popen([*ASSETDB, *trial.argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=trial.env(), text=True)


def run_to_end(trial: Trial) -> tuple[int, str, float]:
    started = time.monotonic()
    process = start(trial)
    _, err = process.communicate()
    return process.returncode, err, time.monotonic() - started


def kill_after(trial: Trial, delay: float) -> bool:
    """Start the command and SIGKILL it after ``delay`` s; True if it was still running."""
    process = start(trial)
    try:
        process.wait(timeout=delay)
        alive = False
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.wait()
        alive = True
    process.stderr.close()
    return alive


def reference_of(base: Path, work: Path, command: str, cap: int) -> dict:
    trial = make_trial(base, work / f"clean-{command}", command, cap)
    code, err, seconds = run_to_end(trial)
    if code != 0:
        raise SystemExit(f"clean {command} failed ({code}): {err.strip()}")
    return {"seconds": seconds, "counts": table_counts(trial.database), "listing": listing(trial.root)}


def torture(base: Path, work: Path, command: str, kills: int, rng: random.Random, cap: int) -> Tally:
    reference = reference_of(base, work, command, cap)
    tally = Tally()
    for index in range(kills):
        trial = make_trial(base, work / f"{command}-{index:03d}", command, cap)
        tally.tried += 1
        tally.killed += kill_after(trial, rng.uniform(0.05, reference["seconds"]))
        if rng.random() < RERUN_KILL_CHANCE:
            tally.killed_again += kill_after(trial, rng.uniform(0.05, reference["seconds"]))
        code, err, _ = run_to_end(trial)
        if code != 0:
            tally.problems.append(f"{command} #{index}: rerun exit {code}: {err.strip()}")
            continue
        tally.record(*judge(trial, reference, base / "pristine", cap), f"{command} #{index}")
        shutil.rmtree(trial.root, ignore_errors=True)
    return tally


def side_by_side(base: Path, work: Path, cap: int) -> dict[str, Tally]:
    """Two syncs at once; a sync while consolidate runs; the gate while a sync commits."""
    results = {}
    tally = Tally(tried=1)
    trial = make_trial(base, work / "sync+sync", "sync", cap)
    pair = [start(trial), start(trial)]
    for process in pair:
        _, err = process.communicate()
        if process.returncode != 0:
            tally.problems.append(f"sync exit {process.returncode}: {err.strip()}")
    tally.record(*judge(trial, reference_of(base, work, "sync", cap), base / "pristine", cap), "sync+sync")
    results["sync + sync"] = tally

    tally = Tally(tried=1)
    trial = make_trial(base, work / "sync-during-consolidate", "consolidate", cap)
    consolidating = start(trial)
    syncing = Trial("sync", trial.root, ["sync", str(trial.workspace), "--db", str(trial.database), "--limit", str(cap),
                                         "--quiet"], trial.database, workspace=trial.workspace)
    time.sleep(0.3)  # let consolidate take the set's lock first
    sync_code, sync_err, _ = run_to_end(syncing)
    _, consolidate_err = consolidating.communicate()
    consolidate_code = consolidating.returncode
    for name, code, err in (("consolidate", consolidate_code, consolidate_err), ("sync", sync_code, sync_err)):
        if code != 0:
            tally.problems.append(f"{name} exit {code}: {err.strip()}")
    tally.record(*judge(trial, None, base / "pristine", cap), "sync during consolidate")
    results["sync during consolidate"] = tally

    tally = Tally(tried=1)
    trial = make_trial(base, work / "gate-during-sync", "sync", cap)
    syncing = start(trial)
    gate = subprocess.run([sys.executable, "-m", "pytest", "--assetdb", str(trial.database.parent),
                           "--assetdb-lock-timeout", "120", "--assetdb-limit", str(cap), "-p", "no:cacheprovider",
                           "-q", "-k", "integrity or size"], capture_output=True, text=True, cwd=trial.root,
                          env=trial.env())
    _, sync_err = syncing.communicate()
    if syncing.returncode != 0:
        tally.problems.append(f"sync exit {syncing.returncode}: {sync_err.strip()}")
    if gate.returncode != 0:
        tally.problems.append(f"gate exit {gate.returncode}: {gate.stdout.strip().splitlines()[-1:]}")
    tally.record(*judge(trial, None, base / "pristine", cap), "gate during sync")
    results["gate during sync"] = tally
    return results


FREE_BYTES_LEFT = 32 * 1024


def _mount_small_disk(folder: Path, size: int) -> bool:
    """A tmpfs of ``size`` bytes at ``folder`` (root only); False when it cannot be mounted."""
    folder.mkdir(parents=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True)
    return mounted.returncode == 0


def _fill_up(disk: Path) -> None:
    """Leave only :data:`FREE_BYTES_LEFT` free on ``disk`` (a filler file the oracle ignores)."""
    free = shutil.disk_usage(disk).free
    with open(disk / "filler", "wb") as handle:
        handle.truncate(0)
        handle.write(b"\0" * max(0, free - FREE_BYTES_LEFT))


def full_disk(base: Path, work: Path, cap: int) -> Tally | str:
    """Every writing command onto a file system with no room left: exit 3, one line naming
    the disk, and the folder as it was. A string (why it was skipped) when not root."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return "full disk: skipped (mounting a tmpfs needs root)"
    tally = Tally()
    synced = base / "synced" / "enterprise_assets.db"
    sources = sorted((base / "pristine").glob("*.db"))
    commands = {
        "migrate": lambda disk: ["migrate", *map(str, sources), "--into", str(disk / "enterprise_assets.db")],
        "consolidate": lambda disk: ["consolidate", str(disk / "databases"), "--yes"],
        "ingest": lambda disk: ["ingest", str(base / "ws"), "--into", str(disk / "enterprise_assets.db")],
        "sync": lambda disk: ["sync", str(base / "ws-changed"), "--db", str(disk / "enterprise_assets.db")],
        "regenerate": lambda disk: ["regenerate", str(synced), "--out", str(disk / "out")],
    }
    for command, arguments in commands.items():
        root = work / f"full-{command}"
        disk = root / "disk"
        (root / "tmp").mkdir(parents=True)
        if not _mount_small_disk(disk, 64 * 2**20):
            return f"full disk: skipped (cannot mount a tmpfs at {disk})"
        try:
            if command == "consolidate":
                shutil.copytree(base / "pristine", disk / "databases")
            if command == "sync":
                for path in synced.parent.iterdir():  # the primary and its shards
                    shutil.copy2(path, disk / path.name)
            _fill_up(disk)
            before = sorted(str(path.relative_to(disk)) for path in disk.rglob("*"))
            tally.tried += 1
            trial = Trial(command, root, [*arguments(disk), "--limit", str(cap), "--backup-dir", str(root / "backups"),
                                          "--quiet"] if command in ("migrate", "consolidate") else
                          [*arguments(disk), "--quiet"], disk / "enterprise_assets.db")
            code, err, _ = run_to_end(trial)
            lines = err.strip().splitlines()
            if code != 3 or len(lines) != 1 or "no space left on the file system" not in err:
                tally.problems.append(f"full disk {command}: exit {code}: {err.strip()[:300]}")
            after = sorted(str(path.relative_to(disk)) for path in disk.rglob("*"))
            tally.leftovers += [f"full disk {command}: {name}" for name in sorted(set(after) - set(before))]
            tally.leftovers += [f"full disk {command}: tmp/{name}" for name in os.listdir(root / "tmp")]
        finally:
            subprocess.run(["umount", "-l", str(disk)], check=False)
    return tally


def table(results: dict[str, Tally]) -> str:
    lines = ["| scenario | tried | killed mid-run | killed again in the rerun | problems | leftovers | cap breaches |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, tally in results.items():
        lines.append(f"| {name} | {tally.tried} | {tally.killed} | {tally.killed_again} | {len(tally.problems)} "
                     f"| {len(tally.leftovers)} | {len(tally.breaches)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=30, help="SIGKILLs per command (default 30; 0: none)")
    parser.add_argument("--scale", choices=sorted(SCALES), default="moderate")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--work", type=Path, help="folder for the trials (default: a temporary one, removed)")
    parser.add_argument("--no-side-by-side", action="store_true", help="no writers and readers side by side")
    parser.add_argument("--full-disk", action="store_true",
                        help="also run every writing command onto a full tmpfs (root only; skipped otherwise)")
    arguments = parser.parse_args(argv)
    work = arguments.work or Path(tempfile.mkdtemp(prefix="torture-"))
    cap = SCALES[arguments.scale][3]
    rng = random.Random(arguments.seed)
    skipped: list[str] = []
    try:
        build_base(work / "base", arguments.scale)
        results = {f"SIGKILL {command}{' --yes' if command == 'consolidate' else ''}":
                   torture(work / "base", work, command, arguments.kills, rng, cap)
                   for command in COMMANDS if arguments.kills}
        if not arguments.no_side_by_side:
            results.update(side_by_side(work / "base", work, cap))
        if arguments.full_disk:
            outcome = full_disk(work / "base", work, cap)
            if isinstance(outcome, str):
                skipped.append(outcome)
            else:
                results["full disk, every writing command"] = outcome
    finally:
        if arguments.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print(table(results))
    for reason in skipped:
        print(f"  {reason}")
    failures = [line for tally in results.values() for line in (*tally.problems, *tally.leftovers, *tally.breaches)]
    for line in failures[:40]:
        print(f"  {line}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
