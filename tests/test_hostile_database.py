"""A hostile enterprise_assets.db: a real ingest, then asset rows edited with plain SQL,
as anyone who can commit the file could. regenerate, sync --pull (into an empty and a
populated workspace) and render must never write outside their folder, never restore a
privilege bit, never hold a bomb in memory, and refuse in one line; verify and the gate
must name every poisoned row."""

from __future__ import annotations

import hashlib
import os
import resource
import shutil
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import folder_state
from consolidation.assets import ingest, pull, regenerate
from consolidation.assets.confine import ConfinedFolder
from consolidation.assets.stored import DEFAULT_MAX_FILE_SIZE
from consolidation.errors import BadInput
from consolidation.size import parse_size
from consolidation.store import initialize
from pytest_assetdb.testing import zlib_bomb

GiB = 2**30
LIMIT = 99_900_000
MiB = 2**20
PRIVILEGE_BITS = stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX


class Bomb(bytes):
    def __repr__(self) -> str:  # a failing test prints this, not a megabyte of bytes
        return f"<zlib bomb of {len(self)} bytes>"


@pytest.fixture(scope="session")
def gigabyte_bomb() -> bytes:
    bomb = Bomb(zlib_bomb(GiB))
    assert len(bomb) < 1.1 * MiB
    return bomb


# -- the database: a real ingest, then edits ------------------------------------------------


@pytest.fixture
def sentinel(tmp_path) -> Path:
    """The folder an attacker aims at: it must stay empty."""
    folder = tmp_path / "sentinel"
    folder.mkdir()
    return folder


WORKSPACE = {
    "README.md": "# Project\n",
    "docs/guide.md": "Guide\n",
    "tools/run.sh": "#!/bin/sh\necho run\n",
    "templates/job.py.tmpl": "print('${name}')\n",
}


@pytest.fixture
def workspace(tmp_path) -> Path:
    """A small tree of every kind, with an executable and a link inside it."""
    root = tmp_path / "workspace"
    for name, text in WORKSPACE.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    os.chmod(root / "tools" / "run.sh", 0o755)
    os.symlink("run.sh", root / "tools" / "link.sh")
    return root


@pytest.fixture
def database(tmp_path, workspace) -> Path:
    path = tmp_path / "db" / "enterprise_assets.db"
    path.parent.mkdir()
    initialize(path, LIMIT)
    ingest(workspace, path, limit=LIMIT)
    return path


def edit(database: Path, *statements: tuple[str, tuple]) -> None:
    connection = sqlite3.connect(database)
    connection.execute("PRAGMA ignore_check_constraints = ON")  # a tampered file has no such scruples
    for sql, parameters in statements:
        connection.execute(sql, parameters)
    connection.commit()
    connection.close()


def add_row(database: Path, path: bytes, content: bytes = b"pwned\n", mode: int = 0o100644,
            table: str = "script_assets", data: bytes | None = None, size: int | None = None,
            with_bytes: bool = True) -> None:
    """An asset row and its sqlar bytes, consistent with each other, as an attacker writes them."""
    size = len(content) if size is None else size
    statements = [
        (f"INSERT INTO {table} (path, version, sha256, size, mode, mtime, mtime_ns, first_seen, last_changed) "
         "VALUES (CAST(? AS TEXT), 1, ?, ?, ?, 0, 0, 'x', 'x')", (path, hashlib.sha256(content).hexdigest(), size, mode)),
    ]
    if with_bytes:
        statements.append(("INSERT INTO sqlar (name, mode, mtime, sz, data) VALUES (CAST(? AS TEXT), ?, 0, ?, ?)",
                           (path, mode, size, content if data is None else data)))
    edit(database, *statements)


def set_mode(database: Path, path: str, mode: object, table: str = "script_assets") -> None:
    edit(database, (f"UPDATE {table} SET mode = ? WHERE path = ?", (mode, path)),
         ("UPDATE sqlar SET mode = ? WHERE name = ?", (mode, path)))


def set_path(database: Path, old: str, new: bytes, table: str) -> None:
    edit(database, (f"UPDATE {table} SET path = CAST(? AS TEXT) WHERE path = ?", (new, old)),
         ("UPDATE sqlar SET name = CAST(? AS TEXT) WHERE name = ?", (new, old)))


def set_bytes(database: Path, path: str, data: bytes, size: int, table: str) -> None:
    edit(database, (f"UPDATE {table} SET size = ? WHERE path = ?", (size, path)),
         ("UPDATE sqlar SET data = ?, sz = ? WHERE name = ?", (data, size, path)))


@dataclass(frozen=True)
class Case:
    name: str
    poison: Callable[[Path, Path, bytes], None]  # (database, sentinel, gigabyte bomb)
    exit_code: int
    message: str  # in the one stderr line
    writes_outside_if_followed: bool = False


def _link_and_file(database, sentinel, _):
    add_row(database, b"evil", os.fsencode(sentinel), stat.S_IFLNK | 0o777)
    add_row(database, b"evil/pwned.txt")


def _relative_link_and_file(database, sentinel, _):
    add_row(database, b"evil", b"../" * 12 + os.fsencode(sentinel).lstrip(b"/"), stat.S_IFLNK | 0o777)
    add_row(database, b"evil/pwned.txt")


def _chained_links(database, sentinel, _):
    add_row(database, b"sub/up", b"..", stat.S_IFLNK | 0o777)  # stays in: sub/.. is the folder
    add_row(database, b"up2", b"sub/up/..", stat.S_IFLNK | 0o777)  # lexically in, but sub/up is the folder: out


CASES = [
    Case("symlink row + file through it", _link_and_file, 2, "('evil'): a symlink out of the folder", True),
    Case("relative symlink + file through it", _relative_link_and_file, 2, "('evil'): a symlink out of the folder", True),
    Case("symlink out of the folder", lambda d, s, _: add_row(d, b"evil", os.fsencode(s), stat.S_IFLNK | 0o777),
         2, "a symlink out of the folder"),
    Case("symlinks chained out of the folder", _chained_links, 2, "leads out of the folder"),
    Case("file used as a folder", lambda d, s, _: add_row(d, b"README.md/pwned.txt"), 2, "uses the stored file 'README.md'"),
    Case("path stored twice", lambda d, s, _: add_row(d, b"docs/guide.md", b"Guide\n", with_bytes=False),
         2, "stored twice"),
    Case("setuid 0o104755", lambda d, s, _: set_mode(d, "tools/run.sh", 0o104755), 0, "asks for setuid"),
    Case("setuid 0o104777", lambda d, s, _: set_mode(d, "tools/run.sh", 0o104777), 0, "asks for setuid"),
    Case("setgid+sticky 0o103777", lambda d, s, _: set_mode(d, "tools/run.sh", 0o103777), 0, "asks for setgid/sticky"),
    Case("character device", lambda d, s, _: set_mode(d, "tools/run.sh", 0o020644), 2, "is a character device"),
    Case("block device", lambda d, s, _: set_mode(d, "tools/run.sh", 0o060644), 2, "is a block device"),
    Case("FIFO", lambda d, s, _: set_mode(d, "tools/run.sh", 0o010644), 2, "is a FIFO"),
    Case("socket", lambda d, s, _: set_mode(d, "tools/run.sh", 0o140644), 2, "is a socket"),
    Case("folder entry", lambda d, s, _: set_mode(d, "tools/run.sh", 0o040755), 2, "is a folder entry"),
    Case("mode that is text", lambda d, s, _: set_mode(d, "tools/run.sh", "rwsr-xr-x"), 2, "mode is text, not an integer"),
    Case("10 GB declared, 1 GB bomb", lambda d, s, bomb: add_row(d, b"bomb.bin", b"", data=bomb, size=10 * 10**9),
         2, "refused before inflating"),
    Case("2 MiB declared, 1 GB bomb", lambda d, s, bomb: add_row(d, b"bomb.bin", b"", data=bomb, size=2 * MiB),
         2, "inflate past the declared 2097152 bytes"),
    Case("sizes that disagree", lambda d, s, _: edit(d, ("UPDATE sqlar SET sz = 5 WHERE name = 'README.md'", ())),
         2, "stored size 5 differs from the recorded 10"),
    Case("mode past any file mode", lambda d, s, _: set_mode(d, "tools/run.sh", 2**40), 2, "is not a file mode"),
    Case("negative mode", lambda d, s, _: set_mode(d, "tools/run.sh", -1), 2, "is not a file mode"),
    Case("negative size", lambda d, s, _: edit(d, ("UPDATE script_assets SET size = -1 WHERE path = 'tools/run.sh'", ())),
         2, "negative size -1"),
    Case("hash that is not one", lambda d, s, _: edit(d, ("UPDATE script_assets SET sha256 = 'zz'", ())),
         2, "sha256 is not 64 lowercase hex digits"),
    Case("shard not in the manifest", lambda d, s, _: edit(d, ("UPDATE script_assets SET shard = 7", ())),
         2, "shard 7, which is not in the manifest"),
    Case("bytes stored as text", lambda d, s, _: edit(d, ("UPDATE sqlar SET data = CAST(data AS TEXT)", ())),
         2, "stored bytes are text, not a blob"),
    Case("bytes missing", lambda d, s, _: edit(d, ("UPDATE sqlar SET data = NULL WHERE name = 'README.md'", ())),
         2, "declares 10 bytes but stores none"),
    Case("empty symlink target", lambda d, s, _: add_row(d, b"l", b"", stat.S_IFLNK | 0o777), 2, "an empty symlink target"),
    Case("NUL in a symlink target", lambda d, s, _: add_row(d, b"l", b"a\0b", stat.S_IFLNK | 0o777), 2, "NUL in its symlink"),
    Case("5000-byte symlink target", lambda d, s, _: add_row(d, b"l", b"a/" * 2500, stat.S_IFLNK | 0o777),
         2, "a symlink target of 5000 bytes"),
    Case("300-byte file name", lambda d, s, _: add_row(d, b"a" * 300), 2, "unsafe stored path (longer than"),
    Case("'..' path", lambda d, s, _: add_row(d, b"../../../pwned.txt"), 2, "unsafe stored path"),
    Case("a git hook", lambda d, s, _: add_row(d, b".git/hooks/pre-commit", b"#!/bin/sh\ntouch pwned\n", 0o100755),
         2, "unsafe stored path (.git is tool state (version control, environments, caches), never an asset)"),
    Case("under .GIT", lambda d, s, _: add_row(d, b".GIT/config"), 2, "unsafe stored path (.GIT is tool state"),
    Case("a .git file", lambda d, s, _: add_row(d, b"vendor/.git", b"gitdir: /elsewhere\n"), 2, "(.git is tool state"),
    Case("into a virtual environment", lambda d, s, _: add_row(d, b".venv/lib/site.py"), 2, "(.venv is tool state"),
    Case("absolute path", lambda d, s, _: add_row(d, os.fsencode(s / "pwned.txt")), 2, "unsafe stored path"),
    Case("NUL in path", lambda d, s, _: add_row(d, b"ok\0/../../pwned.txt"), 2, "unsafe stored path"),
    Case("sqlar is a view", lambda d, s, _: edit(d, ("ALTER TABLE sqlar RENAME TO sqlar_data", ()),
                                                  ("CREATE VIEW sqlar AS SELECT * FROM sqlar_data", ())),
         2, "its bytes are not in a table"),
    Case("sqlar without rowid", lambda d, s, _: edit(
        d, ("ALTER TABLE sqlar RENAME TO sqlar_data", ()),
        ("CREATE TABLE sqlar (name TEXT PRIMARY KEY, mode INT, mtime INT, sz INT, data BLOB) WITHOUT ROWID", ()),
        ("INSERT INTO sqlar SELECT * FROM sqlar_data", ())), 2, "not as assetdb writes them (no such column: rowid)"),
    Case("a column dropped", lambda d, s, _: edit(d, ("ALTER TABLE script_assets DROP COLUMN mtime_ns", ())),
         2, "not as assetdb writes them (no such column: mtime_ns)"),
]
COMMANDS = ["regenerate", "pull into an empty workspace", "pull into a populated workspace"]


def target_tree(folder: Path) -> dict[str, tuple[int, str]]:
    """Every entry under ``folder`` (nothing followed): its mode, and bytes or link target."""
    found = {}
    if not folder.exists():
        return found
    for directory, folders, files in os.walk(folder):
        for name in folders + files:
            full = Path(directory, name)
            info = full.lstat()
            content = ""
            if stat.S_ISLNK(info.st_mode):
                content = os.readlink(full)
            elif stat.S_ISREG(info.st_mode):
                content = hashlib.sha256(full.read_bytes()).hexdigest()
            found[str(full.relative_to(folder))] = (info.st_mode, content)
    return found


def assert_confined(target: Path, sentinel: Path) -> None:
    assert list(sentinel.iterdir()) == [], "a file was written outside the target"
    tree = target_tree(target)
    assert not [name for name, (mode, _) in tree.items() if mode & PRIVILEGE_BITS], "a privilege bit was restored"
    assert not [name for name in tree if name.rsplit("/", 1)[-1].startswith(".assetdb-")], "a temporary was left"


def run_command(command: str, assetdb, database: Path, tmp_path: Path, workspace: Path, *options: str):
    """Run one of the commands the way a user would; returns (result, target folder, target before)."""
    if command == "regenerate":
        target = tmp_path / "out"
        return assetdb("regenerate", database, "--out", target, "--quiet", *options), target, {}
    target = tmp_path / "pulled"
    if command == "pull into an empty workspace":
        target.mkdir()
    else:
        shutil.copytree(workspace, target, symlinks=True)
    before = target_tree(target)
    return assetdb("sync", target, "--db", database, "--pull", "--quiet", *options), target, before


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_a_hostile_row_writes_nothing_outside_and_no_privilege_bit(case, command, database, workspace, sentinel,
                                                                  tmp_path, assetdb, gigabyte_bomb):
    case.poison(database, sentinel, gigabyte_bomb)
    result, target, before = run_command(command, assetdb, database, tmp_path, workspace)
    assert (result.exit_code, case.message in result.stderr) == (case.exit_code, True), result.stderr
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    assert_confined(target, sentinel)
    if case.exit_code == 2:  # refused: nothing at all was written
        assert target_tree(target) == before
    else:
        assert result.stderr.startswith("assetdb: warning: 'tools/run.sh': stored mode")
        if command != "pull into a populated workspace":  # there, the same bytes are already in place
            assert stat.S_IMODE((target / "tools" / "run.sh").stat().st_mode) == case_mode(database) & 0o777


def case_mode(database: Path) -> int:
    return sqlite3.connect(database).execute("SELECT mode FROM script_assets WHERE path = 'tools/run.sh'").fetchone()[0]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_verify_fails_on_every_hostile_database_naming_the_row(case, database, sentinel, assetdb, gigabyte_bomb):
    assert assetdb("verify", database, "--quiet").exit_code == 0
    case.poison(database, sentinel, gigabyte_bomb)
    result = assetdb("verify", database, "--quiet")
    shown = result.stdout + result.stderr
    assert "Traceback" not in shown
    if "not as assetdb writes them" in case.message:  # no row to name: the tables themselves are wrong
        assert result.exit_code == 2 and case.message in result.stderr
    else:
        assert result.exit_code == 1
        assert any(table in shown for table in ("script_assets row", "documentation_assets row")), shown
    assert list(sentinel.iterdir()) == []


def test_the_gate_fails_the_reproducible_item_naming_the_row(pytester, sentinel, gigabyte_bomb):
    workspace = pytester.path / "ws"
    workspace.mkdir()
    (workspace / "run.py").write_text("print(1)\n")
    folder = pytester.path / "databases"
    folder.mkdir()
    database = folder / "enterprise_assets.db"
    initialize(database, LIMIT)
    ingest(workspace, database, limit=LIMIT)
    _link_and_file(database, sentinel, gigabyte_bomb)
    result = pytester.runpytest("--assetdb", "databases", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines([
        "*2 script assets do not reproduce*",
        "*script_assets row * ('evil'): a symlink out of the folder*",
        "*script_assets row * ('evil/pwned.txt'): it passes through the stored symlink 'evil'*",
    ])
    assert result.ret == 1 and list(sentinel.iterdir()) == []


# -- render -----------------------------------------------------------------------------------

TEMPLATE = "templates/job.py.tmpl"
RENDER_CASES = {
    "character device": (lambda d, s, b: set_mode(d, TEMPLATE, 0o020644, "template_assets"), "is a character device"),
    "FIFO": (lambda d, s, b: set_mode(d, TEMPLATE, 0o010644, "template_assets"), "is a FIFO"),
    "mode that is text": (lambda d, s, b: set_mode(d, TEMPLATE, "x", "template_assets"), "mode is text"),
    "symlink out of the folder": (lambda d, s, b: (set_mode(d, TEMPLATE, stat.S_IFLNK | 0o777, "template_assets")),
                                  "a symlink"),
    "'..' path": (lambda d, s, b: set_path(d, TEMPLATE, b"../../job.py.tmpl", "template_assets"), "unsafe stored path"),
    "10 GB declared, 1 GB bomb": (lambda d, s, b: set_bytes(d, TEMPLATE, b, 10 * 10**9, "template_assets"),
                                  "refused before inflating"),
    "2 MiB declared, 1 GB bomb": (lambda d, s, b: set_bytes(d, TEMPLATE, b, 2 * MiB, "template_assets"),
                                  "inflate past the declared"),
    "100 MB template": (lambda d, s, b: set_bytes(d, TEMPLATE, b, 100 * 10**6, "template_assets"),
                        "templates are rendered in memory"),
}


@pytest.mark.parametrize("case", sorted(RENDER_CASES))
def test_render_refuses_a_hostile_template_row_in_one_line(case, database, sentinel, tmp_path, assetdb, gigabyte_bomb):
    poison, message = RENDER_CASES[case]
    poison(database, sentinel, gigabyte_bomb)
    out = tmp_path / "rendered.py"
    result = assetdb("render", "job.py", "--db", database, "--set", "name=x", "--out", out)
    assert result.exit_code == 2 and message in result.stderr, result.stderr
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    assert not out.exists() and list(sentinel.iterdir()) == []


# -- what is allowed, and only when asked -------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_a_link_out_of_the_folder_is_written_only_when_asked_and_never_followed(command, database, workspace,
                                                                               sentinel, tmp_path, assetdb):
    add_row(database, b"evil", os.fsencode(sentinel), stat.S_IFLNK | 0o777)
    result, target, _ = run_command(command, assetdb, database, tmp_path, workspace, "--allow-outside-links")
    assert result.exit_code == 0, result.stderr
    assert os.readlink(target / "evil") == str(sentinel) and (target / "evil").is_symlink()
    assert_confined(target, sentinel)
    add_row(database, b"evil/pwned.txt")  # a file through it stays refused, flag or not
    second = tmp_path / "second"
    second.mkdir()
    again, target, _ = run_command(command, assetdb, database, second, workspace, "--allow-outside-links")
    assert again.exit_code == 2 and "passes through the stored symlink 'evil'" in again.stderr
    assert_confined(target, sentinel)


def test_a_symlink_already_in_the_workspace_is_never_written_through(database, workspace, sentinel, tmp_path, assetdb):
    """A first pull (with the flag) left ``evil`` -> outside; the database then drops the
    link and adds ``evil/pwned.txt``: the second pull must not follow the link on disk."""
    add_row(database, b"evil", os.fsencode(sentinel), stat.S_IFLNK | 0o777)
    clone = tmp_path / "clone"
    clone.mkdir()
    assert assetdb("sync", clone, "--db", database, "--pull", "--allow-outside-links").exit_code == 0
    edit(database, ("DELETE FROM script_assets WHERE path = 'evil'", ()), ("DELETE FROM sqlar WHERE name = 'evil'", ()))
    add_row(database, b"evil/pwned.txt")
    result = assetdb("sync", clone, "--db", database, "--pull", "--force", "--allow-outside-links")
    assert result.exit_code == 2 and "'evil' in" in result.stderr and "is a symlink" in result.stderr
    assert list(sentinel.iterdir()) == []


def test_a_symlink_raced_in_after_judging_is_not_followed(tmp_path, sentinel):
    """Judging is the first line; the writer opens every folder with O_NOFOLLOW, so a
    symlink that appears after the judgement still cannot lead a write out."""
    out = tmp_path / "out"
    with ConfinedFolder(out) as folder:
        os.symlink(sentinel, out / "sub")
        with pytest.raises(BadInput, match="'sub' in .* is a symlink"):
            folder.stage_file(b"sub/pwned.txt", [b"x"], 0o100644, 0)
        folder.stage_file(b"fine/ok.txt", [b"ok"], 0o104755, 0)
        folder.commit()
    assert list(sentinel.iterdir()) == []
    assert stat.S_IMODE((out / "fine" / "ok.txt").stat().st_mode) == 0o755
    assert sorted(os.listdir(out)) == ["fine", "sub"]


def test_a_folder_raced_into_a_destination_before_the_renames_leaves_no_temporary(tmp_path, sentinel):
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(BadInput, match="'b.txt': a folder appeared in its place"):
        with ConfinedFolder(out) as folder:
            folder.stage_file(b"a.txt", [b"a"], 0o100644, 0)
            folder.stage_file(b"b.txt", [b"b"], 0o100644, 0)
            folder.stage_link(b"c", os.fsencode(sentinel), 0)
            (out / "b.txt").mkdir()
            folder.commit()
    assert sorted(os.listdir(out)) == ["a.txt", "b.txt"] and list(sentinel.iterdir()) == []


def test_a_repository_link_out_of_the_workspace_passes_verify_with_its_workspace(tmp_path, assetdb):
    """Repositories hold links like ``python -> /usr/bin/python3``: ingest keeps them, the
    gate with the workspace accepts them (the workspace has the same), regenerate asks."""
    workspace = tmp_path / "repo"
    workspace.mkdir()
    (workspace / "run.py").write_text("print(1)\n")
    os.symlink("/usr/bin/python3", workspace / "python")
    database = tmp_path / "enterprise_assets.db"
    initialize(database, LIMIT)
    ingest(workspace, database, limit=LIMIT)
    alone = assetdb("verify", database, "--quiet")
    assert alone.exit_code == 1 and "('python'): a symlink out of the folder" in alone.stdout
    assert assetdb("verify", database, "--workspace", workspace, "--quiet").exit_code == 0
    with pytest.raises(BadInput, match="--allow-outside-links"):
        regenerate(database, tmp_path / "out", limit=LIMIT)
    regenerate(database, tmp_path / "out", limit=LIMIT, allow_outside_links=True)
    assert os.readlink(tmp_path / "out" / "python") == "/usr/bin/python3"


def test_a_blob_that_lies_about_its_hash_is_streamed_checked_and_not_kept(database, tmp_path, sentinel):
    add_row(database, b"zeros.bin", b"not these bytes", data=zlib_bomb(64 * MiB), size=64 * MiB)
    with pytest.raises(Exception, match="does not match its recorded SHA-256"):
        regenerate(database, tmp_path / "out", limit=LIMIT)
    assert_confined(tmp_path / "out", sentinel)
    assert not (tmp_path / "out" / "zeros.bin").exists()


def test_regenerate_and_pull_still_restore_the_clean_tree(database, workspace, tmp_path):
    regenerate(database, tmp_path / "out", limit=LIMIT)
    assert folder_state(tmp_path / "out") == folder_state(workspace)
    assert os.readlink(tmp_path / "out" / "tools" / "link.sh") == "run.sh"
    assert stat.S_IMODE((tmp_path / "out" / "tools" / "run.sh").stat().st_mode) == 0o755
    clone = tmp_path / "clone"
    clone.mkdir()
    assert len(pull(clone, database, LIMIT).written) == 5
    assert folder_state(clone) == folder_state(workspace)


def test_a_poisoned_past_version_is_refused_by_regenerate_at_and_named_by_verify(database, workspace, tmp_path,
                                                                                   sentinel, assetdb):
    (workspace / "tools" / "run.sh").write_text("#!/bin/sh\necho two\n")
    ingest(workspace, database, limit=LIMIT)  # version 1 of tools/run.sh is history now
    edit(database, ("UPDATE script_assets SET path = CAST(? AS TEXT) WHERE path = 'tools/run.sh' AND version = 1",
                    (os.fsencode(sentinel / "pwned.sh"),)))
    result = assetdb("regenerate", database, "--out", tmp_path / "out", "--at", "1", "--quiet")
    assert result.exit_code == 2 and "unsafe stored path (absolute path)" in result.stderr
    assert list(sentinel.iterdir()) == [] and not (tmp_path / "out").exists()
    verified = assetdb("verify", database, "--quiet")
    assert verified.exit_code == 1 and ", version 1: unsafe stored path (absolute path)" in verified.stdout
    edit(database, ("UPDATE script_assets SET path = 'tools/run.sh', mode = ? WHERE version = 1 AND size = 19",
                    (0o106755,)))
    again = assetdb("regenerate", database, "--out", tmp_path / "out", "--at", "1", "--quiet")
    assert again.exit_code == 0 and "asks for setuid/setgid" in again.stderr
    assert stat.S_IMODE((tmp_path / "out" / "tools" / "run.sh").stat().st_mode) == 0o755
    assert "version 1: stored mode 0o106755 asks for setuid/setgid" in assetdb("verify", database, "--quiet").stdout


def test_the_file_size_cap_and_the_free_room_are_judged_before_writing(database, tmp_path, assetdb, monkeypatch):
    add_row(database, b"big.txt", b"x" * 2000)
    capped = assetdb("regenerate", database, "--out", tmp_path / "out", "--max-file-size", "1KB", "--quiet")
    assert capped.exit_code == 2 and "over the cap of 1.0 KB (raise it with --max-file-size)" in capped.stderr
    assert not (tmp_path / "out").exists()
    assert parse_size("4GiB") == DEFAULT_MAX_FILE_SIZE  # the CLI's default is the library's
    real = os.statvfs

    def full_disk(path):
        info = real(path)
        return os.statvfs_result((info.f_bsize, info.f_frsize, info.f_blocks, 0, 0, *tuple(info)[5:]))

    monkeypatch.setattr(os, "statvfs", full_disk)
    cramped = assetdb("regenerate", database, "--out", tmp_path / "out", "--quiet")
    assert cramped.exit_code == 3 and "no space left on the file system" in cramped.stderr
    assert "(0 B free, about 2.1 KB (2,052 bytes) needed)" in cramped.stderr
    assert not (tmp_path / "out").exists()


# -- memory: a bomb costs a chunk, not its size ----------------------------------------------------


def peak_of(*command: str, limit: int = 1 * GiB) -> tuple[int, str, int]:
    """Run ``command`` under an address-space limit; (exit code, stderr, peak RSS in bytes)."""

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    process = subprocess.Popen([sys.executable, "-m", "consolidation", *command], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, preexec_fn=limit_memory,
                               env={**os.environ, "MALLOC_ARENA_MAX": "2"})
    stderr = process.stderr.read().decode()
    process.stderr.close()
    _, status, usage = os.wait4(process.pid, 0)  # wait4, not wait(): it reports the child's peak RSS
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so Popen must not think it still runs
    return process.returncode, stderr, usage.ru_maxrss * 1024


@pytest.mark.parametrize("declared", [10 * 10**9, 2 * MiB], ids=["10 GB declared", "2 MiB declared"])
@pytest.mark.parametrize("command", ["regenerate", "pull"])
def test_a_bomb_is_refused_in_flat_memory(declared, command, database, tmp_path, gigabyte_bomb):
    add_row(database, b"bomb.bin", b"", data=gigabyte_bomb, size=declared)
    target = tmp_path / "target"
    target.mkdir()
    arguments = ["regenerate", str(database), "--out", str(target)] if command == "regenerate" \
        else ["sync", str(target), "--db", str(database), "--pull"]
    code, stderr, peak = peak_of(*arguments, "--quiet")
    assert code == 2 and len(stderr.splitlines()) == 1 and "Traceback" not in stderr, stderr
    assert peak < 100 * MiB, f"peak RSS {peak / MiB:.0f} MiB"
    assert list(target.iterdir()) == []


@pytest.mark.parametrize("command", ["regenerate --out the workspace", "pull --force"])
def test_a_row_at_the_consolidated_file_s_own_path_is_never_written_over_it(command, tmp_path, assetdb):
    """A row whose path is the set's own file (tampered, or a rendered file stored under that
    name): written into the workspace the set sits in, it would replace the set."""
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)  # the set's workspace: its work tree
    (root / "README.md").write_text("# repo\n")
    database = root / "databases" / "enterprise_assets.db"
    database.parent.mkdir()
    initialize(database, LIMIT)
    ingest(root, database, limit=LIMIT)
    set_path(database, "README.md", b"databases/enterprise_assets.db", "documentation_assets")
    held = database.read_bytes()
    verified = assetdb("verify", database, "--quiet")
    assert verified.exit_code == 1 and "('databases/enterprise_assets.db'): a file of the consolidated set itself" \
        in verified.stdout + verified.stderr
    if command == "pull --force":
        result = assetdb("sync", root, "--db", database, "--pull", "--force", "--quiet")
    else:
        result = assetdb("regenerate", database, "--out", root, "--quiet")
    assert result.exit_code == 2 and "a file of the consolidated set itself, which is never an asset" in result.stderr
    assert database.read_bytes() == held


def test_render_never_stores_under_tool_state_nor_as_the_set_s_own_file(tmp_path, assetdb):
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / "templates").mkdir()
    (root / "templates" / "greet.tmpl").write_text("Hello ${who}\n")
    database = root / "databases" / "enterprise_assets.db"
    database.parent.mkdir()
    initialize(database, LIMIT)
    ingest(root, database, limit=LIMIT)
    held = database.read_bytes()
    for where, said in ((".git/hooks/pre-commit", ".git is tool state"),
                        ("databases/enterprise_assets.db", "a file of the consolidated set itself")):
        refused = assetdb("render", "greet", "--db", database, "--set", "who=World", "--ingest", "--as", where)
        assert refused.exit_code == 2 and said in refused.stderr, refused.stderr
    assert database.read_bytes() == held
