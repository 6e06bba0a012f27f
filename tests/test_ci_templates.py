"""The CI templates under examples/: their shape, and their commands run for real.

A team copies a template and expects a working gate with no other step, so the test runs
every ``assetdb`` and ``pytest`` command of the GitHub Actions workflow, job by job, in a
freshly consolidated demo repository (and the GitLab jobs run the same commands); a
renamed command or option fails here before it fails in someone's pipeline.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
import yaml

from consolidation.demo import build_demo_repository

ROOT = Path(__file__).resolve().parent.parent
GITHUB = ROOT / "examples" / "github-actions" / "assetdb.yml"
GITLAB = ROOT / "examples" / "gitlab" / "assetdb.gitlab-ci.yml"
TOOLS = ("assetdb", "pytest")


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def tool_commands(scripts: list[str]) -> list[list[str]]:
    """The ``assetdb …`` and ``pytest …`` lines of shell scripts, split into words."""
    lines = (line.strip() for script in scripts for line in script.splitlines())
    return [shlex.split(line) for line in lines if line.split(" ", 1)[0] in TOOLS]


def github_scripts(job: dict) -> list[str]:
    return [step["run"] for step in job["steps"] if "run" in step]


def junit_path(command: list[str]) -> str:
    [option] = [word for word in command if word.startswith("--junitxml=")]
    return option.split("=", 1)[1]


def test_the_github_workflow_gates_every_push_and_syncs_on_a_schedule():
    workflow = load(GITHUB)
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert {"push", "pull_request", "schedule"} <= set(triggers)
    assert triggers["schedule"][0]["cron"].count(" ") == 4
    gate, sync = workflow["jobs"]["gate"], workflow["jobs"]["sync"]
    assert "schedule" in sync["if"] and "!= 'schedule'" in gate["if"]

    for job in (gate, sync):
        uses = [step.get("uses", "") for step in job["steps"]]
        assert uses[0].startswith("actions/checkout@") and job["steps"][0]["with"]["lfs"] is True
        assert any(use.startswith("actions/setup-python@") for use in uses)
        assert any("pip install pytest-assetdb" in script for script in github_scripts(job))
        [gated] = [command for command in tool_commands(github_scripts(job)) if command[0] == "pytest"]
        assert gated[1] == "--assetdb"
        [upload] = [step for step in job["steps"] if step.get("uses", "").startswith("actions/upload-artifact@")]
        assert upload["if"] == "always()" and upload["with"]["path"] == junit_path(gated)

    assert [command[:2] for command in tool_commands(github_scripts(sync))] == [["assetdb", "sync"], ["pytest", "--assetdb"]]
    assert sync["permissions"] == {"contents": "write"} and "git push" in github_scripts(sync)[-1]


def test_the_gitlab_jobs_gate_every_pipeline_and_sync_on_a_schedule():
    jobs = load(GITLAB)
    gate, sync = jobs["assetdb-gate"], jobs["assetdb-sync"]
    assert any("pip install pytest-assetdb" in line for line in jobs[gate["extends"]]["before_script"])
    assert gate["rules"] == [{"if": '$CI_PIPELINE_SOURCE != "schedule"'}]
    assert sync["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "schedule"'}]
    for job in (gate, sync):
        [gated] = [command for command in tool_commands(job["script"]) if command[0] == "pytest"]
        assert job["artifacts"]["when"] == "always" and job["artifacts"]["reports"]["junit"] == junit_path(gated)
    assert [command[:2] for command in tool_commands(sync["script"])] == [["assetdb", "sync"], ["pytest", "--assetdb"]]
    assert "git push" in sync["script"][-1]

    github = load(GITHUB)["jobs"]
    same = [tool_commands(github_scripts(job)) for job in (github["gate"], github["sync"])]
    assert [tool_commands(gate["script"]), tool_commands(sync["script"])] == same  # so the run below covers both


def run_tool(repo: Path, command: list[str]) -> subprocess.CompletedProcess:
    """``assetdb``/``pytest`` as the template runs it, through this interpreter."""
    module = "consolidation" if command[0] == "assetdb" else "pytest"
    return subprocess.run([sys.executable, "-m", module, *command[1:]], cwd=repo, capture_output=True, text=True,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})


@pytest.fixture
def consolidated_repository(tmp_path) -> Path:
    """The demo repository right after the README's ``assetdb consolidate … --yes``."""
    repo = build_demo_repository(tmp_path / "repo")
    folders = [str(folder.relative_to(repo.root)) for folder in repo.database_folders]
    done = subprocess.run([sys.executable, "-m", "consolidation", "consolidate", *folders, "--workspace", ".",
                           "--backup-dir", str(tmp_path / "backups"), "--yes", "--skip-unusable", "--quiet"],
                          cwd=repo.root, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return repo.root


def test_the_workflow_commands_run_green_on_a_consolidated_repository(consolidated_repository):
    jobs = load(GITHUB)["jobs"]
    for name in ("gate", "sync"):
        for command in tool_commands(github_scripts(jobs[name])):
            result = run_tool(consolidated_repository, command)
            assert result.returncode == 0, f"{name}: {shlex.join(command)}\n{result.stdout[-2000:]}{result.stderr}"
            if command[0] == "pytest":
                report = ElementTree.parse(consolidated_repository / junit_path(command)).getroot()
                suite = report if report.tag == "testsuite" else report.find("testsuite")
                assert int(suite.get("tests")) > 0 and suite.get("failures") == "0" and suite.get("errors") == "0"
                assert report.find(".//property[@name='percent_of_cap']") is not None  # figures travel with it


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True,
                          env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
                               "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"})
    return done.stdout


def test_the_nightly_sync_in_a_fresh_clone_commits_nothing_when_nothing_changed(consolidated_repository, tmp_path):
    """A CI runner checks the repository out anew each night: every file gets the checkout's
    mtime and the runner's umask. The template's sync must not take that for a change, or each
    night commits a new binary of the same content."""
    git(consolidated_repository, "add", "-A")
    git(consolidated_repository, "commit", "--quiet", "-m", "consolidated")
    clone = tmp_path / "clone"
    umask = os.umask(0)  # a CI runner's (GitLab's docker executor checks out under umask 000)
    try:
        git(tmp_path, "clone", "--quiet", str(consolidated_repository), str(clone))
    finally:
        os.umask(umask)
    sync = load(GITHUB)["jobs"]["sync"]
    for command in tool_commands(github_scripts(sync)):
        result = run_tool(clone, command)
        assert result.returncode == 0, f"{shlex.join(command)}\n{result.stdout[-2000:]}{result.stderr}"
    assert git(clone, "status", "--porcelain", "--", "databases/") == ""
    (clone / "README.md").write_text("edited in the night\n", encoding="utf-8")
    [synced] = [command for command in tool_commands(github_scripts(sync)) if command[0] == "assetdb"]
    assert run_tool(clone, synced).returncode == 0
    assert git(clone, "status", "--porcelain", "--", "databases/").strip()  # a real edit is committed
