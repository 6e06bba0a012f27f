"""File assets: ingest and regenerate byte for byte, and refuse every unsafe input."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import pytest

from conftest import folder_state, make_database, sqlite_shell
from consolidation.assets import Classifier, ingest, regenerate
from consolidation.assets import pack as pack_module
from consolidation.errors import Aborted, BadInput
from consolidation.globs import glob_pattern
from consolidation.hookspecs import hookimpl, plugin_manager
from consolidation.proof import check_reproducible

LIMIT = 99_900_000

NON_UTF8 = b"caf\xe9.txt"


def tree(folder: Path) -> dict[bytes, tuple]:
    """Every file and link under ``folder``: bytes (or link target), mode, mtime in ns."""
    found = {}
    root = os.fsencode(folder)
    for directory, _, files in os.walk(root):
        for name in files:
            full = os.path.join(directory, name)
            info = os.lstat(full)
            if stat.S_ISLNK(info.st_mode):
                content = os.readlink(full)
            else:
                with open(full, "rb") as handle:
                    content = handle.read()
            found[os.path.relpath(full, root)] = (content, info.st_mode, info.st_mtime_ns)
    return found


@pytest.fixture
def workspace(tmp_path) -> Path:
    root = tmp_path / "workspace"
    (root / "docs").mkdir(parents=True)
    (root / "templates").mkdir()
    (root / "patterns").mkdir()
    (root / "tools").mkdir()
    (root / "README.md").write_text("# Project\n")
    (root / "docs" / "guide.rst").write_text("Guide\n=====\n")
    (root / "templates" / "script.py.tmpl").write_text("print('${greeting}, ${name}')\n")
    (root / "patterns" / "retry.txt").write_text("retry with backoff\n")
    (root / "tools" / "run.sh").write_text("#!/bin/sh\necho run\n")
    os.chmod(root / "tools" / "run.sh", 0o755)
    (root / "tools" / "blob.bin").write_bytes(bytes(range(256)) * 300)
    (root / "tools" / "empty.py").write_bytes(b"")
    (root / "tools" / "same.py").write_text("# Project\n")  # identical to another file's content
    os.symlink("run.sh", root / "tools" / "link.sh")
    with open(os.path.join(os.fsencode(root), NON_UTF8), "wb") as handle:
        handle.write(b"latin-1 name\n")
    os.utime(root / "README.md", ns=(1_600_000_000_123_456_789, 1_600_000_000_123_456_789))
    return root


def kinds_of(database: Path) -> dict[str, str]:
    connection = sqlite3.connect(database)
    connection.text_factory = bytes
    found = {}
    for kind in ("script", "documentation", "template", "pattern"):
        for (path,) in connection.execute(f"SELECT path FROM {kind}_assets WHERE is_current"):
            found[os.fsdecode(path)] = kind
    return found


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_round_trip_is_byte_for_byte_with_mode_and_mtime(workspace, database, tmp_path):
    report = ingest(workspace, database, limit=LIMIT)
    assert len(report.added) == 10
    assert kinds_of(database) == {
        "README.md": "documentation",
        "docs/guide.rst": "documentation",
        "templates/script.py.tmpl": "template",
        "patterns/retry.txt": "pattern",
        "tools/run.sh": "script",
        "tools/blob.bin": "script",
        "tools/empty.py": "script",
        "tools/same.py": "script",
        "tools/link.sh": "script",
        os.fsdecode(NON_UTF8): "documentation",
    }
    out = tmp_path / "out"
    assert len(regenerate(database, out, limit=LIMIT).written) == 10
    assert tree(out) == tree(workspace)
    assert os.path.islink(out / "tools" / "link.sh")


def test_the_sqlite3_shell_alone_restores_the_workspace(workspace, database, tmp_path):
    shell = sqlite_shell()
    ingest(workspace, database, limit=LIMIT)
    out = tmp_path / "shell-out"
    out.mkdir()
    subprocess.run([shell, str(database), "-Ax"], cwd=out, check=True, capture_output=True)
    expected = {path: (content, mode) for path, (content, mode, _) in tree(workspace).items()}
    assert {path: (content, mode) for path, (content, mode, _) in tree(out).items()} == expected


def test_the_shell_restores_every_link_and_leaves_the_files_they_point_to_as_timed(tmp_path):
    """The shell sets a file's mtime through ``utimes()``, which follows a link: a dangling
    link made it stop (every row after it lost) and a link re-timed its target. Links carry
    no archive mtime, so ``-Ax`` succeeds and makes each of them, in any order: chains,
    links to folders and up, several dangling ones, a loop, one pointing outside."""
    shell = sqlite_shell()
    workspace = tmp_path / "ws"
    (workspace / "d").mkdir(parents=True)
    (workspace / "a.txt").write_text("a\n")
    (workspace / "d" / "x.py").write_text("x\n")
    os.utime(workspace / "a.txt", ns=(978_307_200 * 10**9, 978_307_200 * 10**9))
    links = {"0dangling": "nowhere", "1dangling": "gone/too", "a_chain": "b", "b": "a.txt", "c": "a.txt",
             "d/up": "../a.txt", "loop": "loop", "to_d": "d", "outside": "/etc/hostname", "z_dangling": "no"}
    for name, target in links.items():
        os.symlink(target, workspace / name)
        os.utime(workspace / name, ns=(1_262_304_000 * 10**9, 1_262_304_000 * 10**9), follow_symlinks=False)
    database = tmp_path / "enterprise_assets.db"
    ingest(workspace, database, limit=LIMIT)
    out = tmp_path / "shell-out"
    out.mkdir()
    subprocess.run([shell, str(database), "-Ax"], cwd=out, check=True, capture_output=True)
    for name, target in links.items():
        assert os.readlink(out / name) == target, name
    assert (out / "a_chain").read_text() == "a\n"
    assert (out / "a.txt").stat().st_mtime == 978_307_200  # not the links' 2010
    regenerated = tmp_path / "regenerated"
    regenerate(database, regenerated, limit=LIMIT, allow_outside_links=True)
    assert tree(regenerated) == tree(workspace)  # the links' own mtimes are kept all the same


@pytest.mark.parametrize("tracked", [True, False], ids=["git", "walked"])
def test_a_folder_that_cannot_be_searched_is_one_line_naming_it(tmp_path, tracked):
    """A folder the user may not search hides what is in it: one line saying so (naming the
    file git lists there; the folder, where the tree is walked), never its files left out
    unseen (a walk skipped them) nor "cannot write here" with the name as Python bytes."""
    import shutil

    workspace = tmp_path / "ws"
    (workspace / "closed").mkdir(parents=True)
    (workspace / "closed" / "c.py").write_text("c\n")
    (workspace / "open.py").write_text("o\n")
    if tracked:
        subprocess.run(["git", "init", "-q", str(workspace)], check=True)
        subprocess.run(["git", "-C", str(workspace), "add", "."], check=True)
    command = [sys.executable, "-m", "consolidation", "ingest", str(workspace), "--into", str(tmp_path / "e.db")]
    if os.geteuid() == 0:  # root reads through permissions unless it gives the power up
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv to drop the power to read anything")
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search",
                   "--inh-caps=-dac_override,-dac_read_search", *command]
    (workspace / "closed").chmod(0)
    try:
        result = subprocess.run(command, capture_output=True, text=True)
    finally:
        (workspace / "closed").chmod(0o755)
    assert result.returncode == 2
    expected = ("closed/c.py: cannot be read (permission denied on a folder on its way)" if tracked
                else f"{workspace / 'closed'}: cannot be read (permission denied)")
    assert result.stderr.strip().splitlines() == [f"assetdb: error: {expected}; nothing was stored"]
    assert not (tmp_path / "e.db").exists()


def test_a_link_to_a_folder_is_stored_as_a_link_where_the_tree_is_walked(tmp_path):
    """Outside a git checkout the tree is walked: a symlink to a folder is a link there too
    (git lists it as one), not a folder to leave out unseen."""
    workspace = tmp_path / "ws"
    (workspace / "d").mkdir(parents=True)
    (workspace / "d" / "a.py").write_text("a\n")
    os.symlink("d", workspace / "dl")
    database = tmp_path / "e.db"
    ingest(workspace, database, limit=LIMIT)
    out = tmp_path / "out"
    regenerate(database, out, limit=LIMIT)
    assert os.readlink(out / "dl") == "d" and (out / "d" / "a.py").read_text() == "a\n"


def test_reingesting_an_unchanged_workspace_writes_nothing(workspace, database):
    ingest(workspace, database, limit=LIMIT)
    before = digest(database)
    report = ingest(workspace, database, limit=LIMIT)
    assert not report.changed_anything and report.unchanged == 10
    assert digest(database) == before


def test_a_changed_file_gets_a_new_version_and_the_old_one_stays(workspace, database, tmp_path):
    ingest(workspace, database, limit=LIMIT)
    (workspace / "README.md").write_text("# Project, revised\n")
    report = ingest(workspace, database, limit=LIMIT)
    assert report.changed == ["README.md"]
    rows = sqlite3.connect(database).execute(
        "SELECT version, is_current, first_seen = (SELECT first_seen FROM documentation_assets WHERE version = 1 "
        "AND path = 'README.md') FROM documentation_assets WHERE path = 'README.md' ORDER BY version"
    ).fetchall()
    assert rows == [(1, 0, 1), (2, 1, 1)]
    old = tmp_path / "old"
    regenerate(database, old, path_glob="README.md", at="1", limit=LIMIT)
    assert (old / "README.md").read_text() == "# Project\n"
    new = tmp_path / "new"
    regenerate(database, new, path_glob="README.md", limit=LIMIT)
    assert (new / "README.md").read_text() == "# Project, revised\n"


def test_only_mode_or_mtime_changed_is_no_new_version(workspace, database):
    ingest(workspace, database, limit=LIMIT)
    os.chmod(workspace / "tools" / "blob.bin", 0o600)
    report = ingest(workspace, database, limit=LIMIT)
    assert report.touched == ["tools/blob.bin"] and not report.changed
    mode = sqlite3.connect(database).execute("SELECT mode, version FROM script_assets WHERE path = 'tools/blob.bin'").fetchone()
    assert stat.S_IMODE(mode[0]) == 0o600 and mode[1] == 1


def test_classification_rules_from_pyproject_and_a_plugin(workspace, database):
    (workspace / "pyproject.toml").write_text('[tool.assetdb.kinds]\ntemplate = ["tools/*.sh"]\n')

    class PatternsAreYaml:
        @hookimpl
        def assetdb_classify_asset(self, path):
            return "pattern" if path.endswith("guide.rst") else None

    manager = plugin_manager(load_entry_points=False)
    manager.register(PatternsAreYaml())
    ingest(workspace, database, manager=manager, limit=LIMIT)
    kinds = kinds_of(database)
    assert kinds["tools/run.sh"] == "template"
    assert kinds["docs/guide.rst"] == "pattern"
    assert kinds["pyproject.toml"] == "script"


def test_only_selected_kinds_are_ingested(workspace, database):
    report = ingest(workspace, database, kinds=("template",), limit=LIMIT)
    assert report.added == ["templates/script.py.tmpl"]


def test_in_a_git_checkout_ignored_files_are_not_assets(workspace, database):
    if subprocess.run(["git", "--version"], capture_output=True).returncode != 0:
        pytest.skip("git not installed")
    subprocess.run(["git", "init", "-q", str(workspace)], check=True)
    (workspace / ".gitignore").write_text("*.bin\n")
    (workspace / "build.log").write_text("noise")
    (workspace / ".gitignore").write_text("*.bin\n*.log\n")
    ingest(workspace, database, limit=LIMIT)
    kinds = kinds_of(database)
    assert "tools/blob.bin" not in kinds and "build.log" not in kinds
    assert ".gitignore" in kinds and not any(path.startswith(".git/") for path in kinds)


@pytest.mark.parametrize("tracked", [True, False], ids=["git", "walked"])
def test_a_virtual_environment_is_never_stored_whether_git_lists_it_or_not(workspace, database, tracked):
    """A folder holding ``pyvenv.cfg`` is tool state, whatever its name, and a checkout
    whose ``.gitignore`` does not name it lists its files as untracked."""
    environment = workspace / "env"
    (environment / "bin").mkdir(parents=True)
    (environment / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (environment / "bin" / "activate").write_text("# activate\n")
    os.symlink("/usr/bin/python3", environment / "bin" / "python")
    (workspace / "envoy.py").write_text("not in it\n")
    if tracked:
        subprocess.run(["git", "init", "-q", str(workspace)], check=True)
    ingest(workspace, database, limit=LIMIT)
    kinds = kinds_of(database)
    assert "envoy.py" in kinds and not any(path.startswith("env/") for path in kinds)


@pytest.mark.parametrize("command", ["ingest", "sync", "consolidate"])
def test_a_file_modified_past_2262_is_one_line_and_nothing_is_written(assetdb, tmp_path, command):
    """An mtime is stored in nanoseconds, which SQLite holds up to 2262-04-11: a file dated
    later is named, with the way on, before anything is written (it was an internal error
    after the rows were migrated)."""
    workspace = tmp_path / "ws"
    (workspace / "databases").mkdir(parents=True)
    make_database(workspace / "databases" / "a.db", "CREATE TABLE t (x)", "INSERT INTO t VALUES (1)")
    (workspace / "ok.md").write_text("ok\n")
    (workspace / "future.md").write_text("future\n")
    os.utime(workspace / "future.md", ns=(2**63 + 10**9, 2**63 + 10**9))
    target = workspace / "databases" / "enterprise_assets.db"
    arguments = {"ingest": ["ingest", workspace, "--into", target], "sync": ["sync", workspace, "--db", target],
                 "consolidate": ["consolidate", workspace / "databases", "--workspace", workspace,
                                 "--backup-dir", tmp_path / "backups"]}[command]
    before = folder_state(workspace)
    result = assetdb(*arguments)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "assetdb: error: future.md: its modification time is past what SQLite stores to the nanosecond "
        "(1677-09-21 to 2262-04-11); set it (touch FILE) or leave the file out (--exclude); nothing was stored"]
    assert folder_state(workspace) == before


def test_symlink_out_of_the_workspace_is_stored_as_a_link(workspace, database, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not part of the workspace")
    os.symlink(secret, workspace / "outside")
    ingest(workspace, database, limit=LIMIT)
    data = sqlite3.connect(database).execute("SELECT data, mode FROM sqlar WHERE name = 'outside'").fetchone()
    assert data[0] == os.fsencode(secret) and stat.S_ISLNK(data[1])


def test_a_symlink_that_led_out_of_the_workspace_once_stays_proved_as_history(workspace, database, tmp_path):
    """The proof accepts a link out of the workspace while the workspace holds it; once it is
    retargeted (or removed), that version is history, and still proved, never a red gate
    nothing could clear."""
    from consolidation.assets import push
    from consolidation.proof import check_reproducible

    os.symlink("/usr/bin/env", workspace / "tool")
    push(workspace, database, LIMIT)
    assert check_reproducible(database, workspace).ok
    (workspace / "tool").unlink()
    os.symlink("README.md", workspace / "tool")
    push(workspace, database, LIMIT)
    report = check_reproducible(database, workspace)
    assert report.ok, report.problems
    (workspace / "tool").unlink()
    push(workspace, database, LIMIT)
    assert check_reproducible(database, workspace).ok


def test_fifo_is_skipped_with_a_note(workspace, database):
    os.mkfifo(workspace / "pipe")
    report = ingest(workspace, database, limit=LIMIT)
    assert report.skipped == ["pipe: not a regular file or symlink, skipped"]
    assert "pipe" not in kinds_of(database)


def test_unreadable_file_stops_the_ingest_and_writes_nothing(workspace, database, monkeypatch):
    before = digest(database)
    real_open = open

    def refuse(path, *args, **kwargs):
        if os.fsdecode(path).endswith("blob.bin"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(pack_module, "open", refuse, raising=False)
    with pytest.raises(BadInput, match="tools/blob.bin: cannot be read"):
        ingest(workspace, database, limit=LIMIT)
    assert digest(database) == before


def test_a_file_that_keeps_changing_aborts_the_run_with_nothing_stored(workspace, database, monkeypatch):
    before = digest(database)
    real_read = pack_module._read_regular

    def read_then_touch(full, file, scratch):
        packed = real_read(full, file, scratch)
        if full.endswith(b"run.sh"):
            with open(full, "ab") as handle:
                handle.write(b"# edited while read\n")
        return packed

    monkeypatch.setattr(pack_module, "_read_regular", read_then_touch)
    with pytest.raises(Aborted, match="tools/run.sh: kept changing while it was read"):  # exit 3, as a writer at work is
        ingest(workspace, database, limit=LIMIT)
    assert digest(database) == before


def test_a_200_megabyte_file_is_streamed(tmp_path, database):
    workspace = tmp_path / "big"
    workspace.mkdir()
    with open(workspace / "huge.bin", "wb") as handle:
        handle.truncate(200 * 2**20)  # sparse: 200 MB of zeros, instantly
    code = textwrap.dedent(
        """
        import json, resource, sys
        from consolidation.assets.ingest import ingest
        report = ingest(sys.argv[1], sys.argv[2], limit=99_900_000)
        print(json.dumps([report.added, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss]))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(workspace), str(database)], capture_output=True, text=True, check=True
    )
    added, peak_kib = json.loads(result.stdout)
    assert added == ["huge.bin"]
    assert peak_kib < 150 * 1024, f"peak RSS {peak_kib} KiB: the file was held in memory"
    stored = sqlite3.connect(database).execute("SELECT sz, length(data) FROM sqlar WHERE name = 'huge.bin'").fetchone()
    assert stored[0] == 200 * 2**20 and stored[1] < 2**20
    assert check_reproducible(database).ok


# -- regenerate refuses what a tampered database asks for -----------------------------------


def plant(database: Path, path: bytes, content: bytes = b"x", data: bytes | None = None, size: int | None = None) -> None:
    """Insert an asset row and its bytes directly, as a tampered database would hold them."""
    connection = sqlite3.connect(database)
    connection.execute("PRAGMA ignore_check_constraints = ON")  # a tampered file has no such scruples
    connection.execute(
        "INSERT INTO script_assets (path, version, sha256, size, mode, mtime, mtime_ns, first_seen, last_changed) "
        "VALUES (CAST(? AS TEXT), 1, ?, ?, 33188, 0, 0, 'x', 'x')",
        (path, hashlib.sha256(content).hexdigest(), len(content) if size is None else size),
    )
    connection.execute(
        "INSERT INTO sqlar (name, mode, mtime, sz, data) VALUES (CAST(? AS TEXT), 33188, 0, ?, ?)",
        (path, len(content) if size is None else size, content if data is None else data),
    )
    connection.commit()
    connection.close()


@pytest.mark.parametrize("path", [b"../../x", b"/etc/x", b"a/../../x", b"a//b", b"./x"])
def test_unsafe_stored_paths_are_refused_before_writing_anything(database, tmp_path, path, assetdb):
    plant(database, b"fine.txt")
    plant(database, path)
    before = digest(database)
    out = tmp_path / "out"
    result = assetdb("regenerate", database, "--out", out)
    assert result.exit_code == 2 and "unsafe stored path" in result.stderr
    assert not out.exists() and not (tmp_path / "x").exists()
    assert digest(database) == before


def test_a_symlink_planted_in_the_output_folder_is_not_followed(database, tmp_path):
    plant(database, b"sub/file.txt")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(elsewhere, out / "sub")
    with pytest.raises(BadInput, match="is a symlink"):
        regenerate(database, out, limit=LIMIT)
    assert list(elsewhere.iterdir()) == []


def test_tampered_bytes_are_refused_and_not_written(database, tmp_path, assetdb):
    plant(database, b"tampered.txt", content=b"original", data=b"changed!")
    out = tmp_path / "out"
    result = assetdb("regenerate", database, "--out", out)
    assert result.exit_code == 1 and "does not match its recorded SHA-256" in result.stderr
    assert not (out / "tampered.txt").exists() and not list(out.glob(".*tmp"))


def test_a_blob_longer_than_its_declared_size_is_refused_unread(database, tmp_path):
    bomb = zlib.compress(b"\0" * 10_000_000)
    plant(database, b"bomb.bin", content=b"\0" * 10, data=bomb, size=10)
    with pytest.raises(BadInput, match=r"stores \d+ bytes for a declared size of 10; nothing was written"):
        regenerate(database, tmp_path / "out", limit=LIMIT)
    assert not (tmp_path / "out").exists()


def test_verify_with_a_workspace_lists_what_differs(workspace, database, assetdb):
    ingest(workspace, database, limit=LIMIT)
    (workspace / "README.md").write_text("edited after ingest\n")
    (workspace / "new.md").write_text("never ingested\n")
    for index in range(25):
        (workspace / f"extra{index}.py").write_text(str(index))
    result = assetdb("verify", database, "--workspace", workspace)
    assert result.exit_code == 1
    assert "FAIL  README.md: workspace bytes differ from the stored version 1" in result.stdout
    assert f"FAIL  extra0.py: in the workspace but not stored (run: assetdb sync {workspace} --db {database})" in result.stdout
    assert "FAIL  … and 7 more" in result.stdout  # 27 problems, the first 20 shown
    assert f"new.md: in the workspace but not stored (run: assetdb sync {workspace} --db {database})" in check_reproducible(database, workspace).problems
    ok = assetdb("verify", database)
    assert ok.exit_code == 0 and "10 assets regenerate to their SHA-256" in ok.stdout


def test_cli_ingest_and_regenerate(workspace, tmp_path, assetdb):
    database = tmp_path / "db.db"
    first = assetdb("ingest", workspace, "--into", database)
    assert first.exit_code == 0 and first.stdout.startswith("10 added")
    again = assetdb("ingest", workspace, "--into", database)
    assert again.exit_code == 0 and again.stdout.startswith("unchanged: 10 assets")
    log = sqlite3.connect(database).execute(
        "SELECT count(*) FROM cross_database_sync_operations WHERE operation = 'ingest'"
    ).fetchone()
    assert log == (1,)
    out = tmp_path / "out"
    regenerated = assetdb("regenerate", database, "--out", out, "--kind", "template")
    assert regenerated.exit_code == 0 and "1 files written" in regenerated.stdout
    assert (out / "templates" / "script.py.tmpl").is_file()
    bad_at = assetdb("regenerate", database, "--out", out, "--at", "yesterday")
    assert bad_at.exit_code == 2 and "--at 'yesterday'" in bad_at.stderr
    before = folder_state(tmp_path)
    for selection, said in ((["--path", "["], "--path '['"), (["--path", ""], "--path ''"), (["--at", "7"], "--at '7'"),
                            (["--path", "docs/*", "--at", "1999-01-01"], "--path 'docs/*' and --at '1999-01-01'")):
        nothing = assetdb("regenerate", database, "--out", tmp_path / "new", *selection)
        assert nothing.exit_code == 2, nothing.stdout
        assert nothing.stderr.strip().splitlines() == [
            f"assetdb: error: {database}: no stored asset matches {said}; nothing was written"]
    assert folder_state(tmp_path) == before
    missing = assetdb("ingest", tmp_path / "nowhere", "--into", database)
    assert missing.exit_code == 2 and "no such workspace folder" in missing.stderr


def test_glob_rules_match_like_gitignore():
    classifier = Classifier([("template", glob_pattern("templates/**")),
                             ("documentation", glob_pattern("*.md")),
                             ("script", glob_pattern("**"))])
    assert classifier.kind_of("templates/a/b.txt") == "template"
    assert classifier.kind_of("deep/down/notes.md") == "documentation"
    assert classifier.kind_of("src/templates/x") == "script"
    assert classifier.kind_of("run.py") == "script"


def test_regenerate_overwrites_no_file_that_differs_from_what_it_writes(assetdb, workspace, database, tmp_path):
    """Regenerating into a folder that holds some of the files: the same versions are
    written again; a file that differs (an edit, when the folder is the workspace) stops the
    run in one line, before anything is written, and stays as it is."""
    ingest(workspace, database, limit=LIMIT)
    again = assetdb("regenerate", database, "--out", workspace, "--quiet")
    assert again.exit_code == 0, again.stderr  # every file there is the stored version
    (workspace / "README.md").write_text("# Project, edited and not synced\n")
    os.remove(workspace / "docs" / "guide.rst")
    before = folder_state(workspace)
    refused = assetdb("regenerate", database, "--out", workspace)
    assert refused.exit_code == 2
    assert refused.stderr.strip().splitlines() == [
        f"assetdb: error: {workspace}: 1 files there differ from the versions regenerate would write over them "
        "(README.md); regenerate into a new folder, or update a workspace with assetdb sync WORKSPACE --db DB --pull "
        "(it keeps local edits unless --force); nothing was written"]
    assert folder_state(workspace) == before


def test_regenerate_at_a_date_leaves_out_what_was_deleted_by_then(tmp_path, monkeypatch):
    """The tree as it was at a date: a file deleted before it is not in it (it came back),
    and a file that became a folder and then a file again regenerates at every date."""
    from consolidation.assets import push

    ingest_module = sys.modules["consolidation.assets.ingest"]  # the package's ``ingest`` is the function
    days = iter(f"2026-03-0{day}T12:00:00Z" for day in range(1, 10))
    monkeypatch.setattr(ingest_module, "utc_now", lambda: next(days))
    workspace, database = tmp_path / "ws", tmp_path / "db" / "enterprise_assets.db"
    (workspace / "scripts").mkdir(parents=True)
    database.parent.mkdir()
    (workspace / "keep.txt").write_text("keep\n")
    (workspace / "secret.txt").write_text("secret\n")
    (workspace / "scripts" / "a.py").write_text("print('a file')\n")
    push(workspace, database, LIMIT)  # March 1st
    (workspace / "secret.txt").unlink()
    (workspace / "scripts" / "a.py").unlink()
    (workspace / "scripts" / "a.py").mkdir()
    (workspace / "scripts" / "a.py" / "inner.txt").write_text("inside a folder\n")
    push(workspace, database, LIMIT)  # March 2nd
    (workspace / "scripts" / "a.py" / "inner.txt").unlink()
    (workspace / "scripts" / "a.py").rmdir()
    (workspace / "scripts" / "a.py").write_text("print('a file again')\n")
    push(workspace, database, LIMIT)  # March 3rd

    def tree_at(day: str) -> dict[str, str]:
        out = tmp_path / f"at-{day}"
        regenerate(database, out, at=day, limit=LIMIT)
        return {str(path.relative_to(out)): path.read_text() for path in sorted(out.rglob("*")) if path.is_file()}

    assert tree_at("2026-03-01") == {"keep.txt": "keep\n", "scripts/a.py": "print('a file')\n", "secret.txt": "secret\n"}
    assert tree_at("2026-03-02") == {"keep.txt": "keep\n", "scripts/a.py/inner.txt": "inside a folder\n"}
    assert tree_at("2026-03-05") == {"keep.txt": "keep\n", "scripts/a.py": "print('a file again')\n"}


def test_a_refusal_for_what_is_in_the_target_folder_does_not_send_the_user_to_verify(tmp_path, assetdb):
    """verify reads the database alone: it can name a bad row, never a symlink already in
    the folder written into."""
    workspace, database = tmp_path / "ws", tmp_path / "db" / "enterprise_assets.db"
    (workspace / "data").mkdir(parents=True)
    database.parent.mkdir()
    for name in ("a.txt", "b.txt"):
        (workspace / "data" / name).write_text(name)
    ingest(workspace, database, limit=LIMIT)
    out = tmp_path / "out"
    out.mkdir()
    (out / "data").symlink_to(tmp_path)
    refused = assetdb("regenerate", database, "--out", out, "--quiet")
    assert refused.exit_code == 2 and f"'data' in {out} is a symlink (+1 more); nothing was written" in refused.stderr
    assert assetdb("verify", database).exit_code == 0
