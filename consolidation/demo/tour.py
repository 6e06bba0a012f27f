"""The demo: the README's workflow, run on a demo legacy repository, step by step.

inventory → consolidate (refused once, as a real repository is, then with
``--skip-unusable``) → the gate → an edit and a sync → the gate again. Each step prints
the command a user would type, then what it did; the gate is run as the user runs it, by
``pytest --assetdb`` in a separate process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..assets import push
from ..config import load_settings
from ..consolidate import Request, consolidate
from ..errors import BadInput, CheckFailed
from ..inventory import take_inventory
from ..reports import render_inventory, render_notes, render_push, render_summary
from .repository import build_demo_repository

#: How many files the demo repository has around its databases (the tests use thousands).
DEMO_FILES = 60


def _gate(repo: Path, say: Callable[[str], None]) -> None:
    command = ["pytest", "--assetdb", "databases/", "--assetdb-workspace", "."]
    say(f"$ {' '.join(command)}")
    gate = subprocess.run(  # the repository is its own rootdir, wherever the demo folder is
        [sys.executable, "-m", *command, "--rootdir", ".", "-p", "no:cacheprovider", "-q", "--no-header"],
        cwd=repo, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}, capture_output=True, text=True,
    )
    for line in gate.stdout.strip().splitlines()[-14:]:
        say(f"  {line}")
    if gate.returncode != 0:
        raise CheckFailed(f"the gate failed (pytest exit {gate.returncode}); see its output above")


def run_demo(directory: Path | None, gate: bool, say: Callable[[str], None], track) -> Path | None:
    """Build the demo repository in ``directory`` (else a temporary folder, removed at the
    end) and run the workflow; returns the folder kept, if any."""
    if directory is not None and os.path.lexists(directory) and (directory.is_symlink() or not directory.is_dir()):
        raise BadInput(f"{directory}: is not a folder; the demo runs in a fresh folder")
    if directory is not None and directory.exists() and any(directory.iterdir()):
        raise BadInput(f"{directory}: already exists and is not empty; the demo runs in a fresh folder")
    root = (directory or Path(tempfile.mkdtemp(prefix="assetdb-demo-"))).absolute()
    try:
        _tour(root / "repo", gate, say, track)
    finally:
        if directory is None:
            shutil.rmtree(root, ignore_errors=True)
    say(f"done: explore it in {root / 'repo'}" if directory else
        "done (the demo ran in a temporary folder, now removed: give a DIR to keep it)")
    return directory


def _tour(repo_path: Path, gate: bool, say: Callable[[str], None], track) -> None:
    say(f"1. a legacy repository, as found: {repo_path}")
    repo = build_demo_repository(repo_path, DEMO_FILES)
    say(f"   git work tree; databases in {len(repo.database_folders)} folders and one at the root; "
        f"a hand-written list in {repo.database_list.relative_to(repo_path)}")
    previous = Path.cwd()
    os.chdir(repo_path)  # the README's commands run from the repository root
    try:
        folders = [Path(os.path.relpath(folder, repo_path)) for folder in repo.database_folders]
        shown = " ".join(f"{folder}/" for folder in folders)
        limit = load_settings().size_limit
        say(f"2. $ assetdb inventory {shown}")
        say(render_inventory(take_inventory(folders, limit, track("inventory"))))
        request = Request(tuple(folders), limit, Path("."), Path("..") / "backups", archive=True)
        command = f"assetdb consolidate {shown} --workspace . --backup-dir ../backups --yes"
        say(f"3. $ {command}")
        try:
            consolidate(request, track=track)
        except BadInput as error:
            say(f"   assetdb: error: {error}")
        say(f"   $ {command} --skip-unusable")
        request = Request(tuple(folders), limit, Path("."), Path("..") / "backups", archive=True, skip_unusable=True)
        summary = consolidate(request, announce=lambda step, line: say(f"   {step:<13} {line}"), track=track)
        say(f"   {render_summary(summary, archived=True)}")
        if gate:
            say("4. the gate, as CI runs it")
            _gate(repo_path, say)
        say("5. an edit, then: $ assetdb sync . --db databases/enterprise_assets.db")
        (Path("docs") / "setup.md").write_text("# Setup\n\nRun `make demo`, then `make test`.\n", encoding="utf-8")
        report = push(Path("."), Path("databases/enterprise_assets.db"), limit, track=track("sync"),
                      database_list=summary.database_list)
        for line in filter(None, (render_push(report), render_notes(report))):  # as the command prints them
            say(f"   {line}")
        if gate:
            _gate(repo_path, say)
    finally:
        os.chdir(previous)
