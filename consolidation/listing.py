"""Reading a database list: where it is, and which databases it names, and how.

A repository usually has one ``CONSOLIDATED_DATABASE_LIST.md``, often hand-written and
not beside the databases (``documentation/`` is common): prose around a bullet list of
names and sizes. ``assetdb`` keeps its own part of the list between two marker comments
and never touches the rest, so reading distinguishes the two:

* the **generated block** names every database by its path relative to the list file,
  in sections: active, shards, archived, skipped;
* the **prose** mentions databases however its author wrote them (code spans, bare names,
  a file name only); it is what the cross-check compares with the facts.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from .errors import BadInput
from .globs import resolved
from .sqlite.backup import find_workspace
from .sqlite.classify import DATABASE_SUFFIXES
from .store.owned import LIST_FILENAME

BEGIN_MARKER = "<!-- assetdb:database-list:begin"
END_MARKER = "<!-- assetdb:database-list:end -->"
SECTIONS = {"### Active": "active", "### Shards": "shards", "### Archived": "archived", "### Skipped": "skipped"}

#: Folders that never hold a project's list (tool state, environments).
_NOT_SEARCHED = frozenset({".git", ".hg", ".svn", ".venv", "venv", "node_modules", "__pycache__", ".tox"})
_CODE_SPAN = re.compile(r"`([^`\n]+)`")
_BARE_NAME = re.compile(r"[\w./@+-]+\.(?:db|sqlite3?)(?!\.?[\w-])", re.IGNORECASE)
_FIRST_CELL = re.compile(r"^\|\s*`([^`]+)`")


@dataclass
class DatabaseList:
    """What a list file says. Paths in the generated sections are relative to the file."""

    path: Path
    prose: str = ""  # everything outside the generated block, byte for byte
    generated: bool = False
    active: list[str] = field(default_factory=list)
    shards: list[str] = field(default_factory=list)
    archived: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def generated_names(self) -> set[str]:
        return {*self.active, *self.shards, *self.archived, *self.skipped}

    def mentioned(self) -> set[str]:
        """Database names the prose mentions, as its author wrote them."""
        names = {span.strip() for span in _CODE_SPAN.findall(self.prose)}
        names.update(_BARE_NAME.findall(self.prose))
        return {name.removeprefix("./") for name in names if name.lower().endswith(DATABASE_SUFFIXES)}

    def relative(self, database: Path) -> str:
        """``database``'s path as the list names it: relative to the list's folder (a link
        by its own name, not its target's)."""
        return os.path.relpath(_real_folder(database), resolved(self.path).parent).replace(os.sep, "/")

    def names(self, database: Path) -> bool:
        """Does the list name ``database`` anywhere: in its block, or in the prose?"""
        return self.relative(database) in self.generated_names or self.prose_names(database)

    def prose_names(self, database: Path) -> bool:
        """Does the hand-written prose name ``database``: by its path relative to the list,
        or, as people write lists, by its path from the repository's root or its file name?"""
        mentioned = self.mentioned()
        from_root = os.path.relpath(_real_folder(database), find_workspace(resolved(self.path))).replace(os.sep, "/")
        return bool({self.relative(database), from_root, database.name} & mentioned)

    def located(self, name: str) -> Path:
        """The file a name the list gives means: relative to the list's folder, or from the
        repository's root when only that one is there (as people write lists)."""
        beside = self.path.parent / name
        from_root = find_workspace(resolved(self.path)) / name
        return from_root if not os.path.lexists(beside) and os.path.lexists(from_root) else beside

    def section_of(self, database: Path) -> str | None:
        """``active``, ``shards``, ``archived`` or ``skipped``: where the block names it."""
        relative = self.relative(database)
        for section in ("active", "shards", "archived", "skipped"):
            if relative in getattr(self, section):
                return section
        return None


def read_list(path: Path) -> DatabaseList:
    """Parse a list file: its prose, and its generated block if it has one."""
    try:
        text = path.read_bytes().decode("utf-8")  # its own line endings, CRLF ones too
    except FileNotFoundError:
        return DatabaseList(path)
    except (OSError, UnicodeDecodeError) as error:
        raise BadInput(f"{path}: cannot read the database list ({error})") from None
    begin, end = text.find(BEGIN_MARKER), text.find(END_MARKER)
    if begin < 0 or end < begin:
        return DatabaseList(path, prose=text)
    parsed = DatabaseList(path, prose=text[:begin] + text[end + len(END_MARKER):], generated=True)
    section = None
    for line in text[begin:end].splitlines():
        if line.startswith("### "):
            section = SECTIONS.get(line.strip())
            continue
        match = _FIRST_CELL.match(line)
        if match and section:
            getattr(parsed, section).append(match.group(1))
    return parsed


def is_kept_list(path: Path, lists_in_workspace: int, a_set_keeps_one: bool = False) -> bool:
    """Is the ``CONSOLIDATED_DATABASE_LIST.md`` at ``path`` one the tool keeps (never a file
    asset: each run rewrites it)? One holding the block the tool writes is (this set's or
    another's, however its path is spelled); of the others, the workspace's only list, while
    no set records the list it keeps. Another (an old hand-written copy) is a document."""
    try:
        with open(path, "rb") as handle:
            if BEGIN_MARKER.encode() in handle.read(MAX_LIST_BYTES):
                return True
    except OSError:
        return False
    return not a_set_keeps_one and lists_in_workspace <= 1


#: A list file is read this far to find the tool's block in it.
MAX_LIST_BYTES = 4 << 20


def _lists_in(workspace: Path) -> list[Path]:
    """Every ``CONSOLIDATED_DATABASE_LIST.md`` of the workspace: the files Git knows of in
    a work tree (so ignored copies do not count), else a walk of the folder."""
    if (workspace / ".git").exists() and shutil.which("git"):
        result = subprocess.run(
            ["git", "-C", str(workspace), "ls-files", "-z", "--cached", "--others", "--exclude-standard",
             f"*{LIST_FILENAME}", LIST_FILENAME],
            capture_output=True,
        )
        if result.returncode == 0:
            entries = {workspace / os.fsdecode(entry) for entry in result.stdout.split(b"\0") if entry}
            return sorted(path for path in entries if path.name == LIST_FILENAME and path.is_file())
    found = []
    for folder, subfolders, files in os.walk(workspace):
        subfolders[:] = sorted(name for name in subfolders if name not in _NOT_SEARCHED)
        if LIST_FILENAME in files:
            found.append(Path(folder) / LIST_FILENAME)
    return sorted(found)


def find_list(workspace: Path, default_folder: Path, explicit: Path | None = None) -> Path:
    """The database list to read and keep: ``explicit`` (``--list``/``[tool.assetdb]``), else
    the one ``CONSOLIDATED_DATABASE_LIST.md`` anywhere in the workspace, else a new one in
    ``default_folder``. Several in the workspace is ambiguous: refused, naming them."""
    if explicit is not None:
        if explicit.is_dir():
            raise BadInput(f"{explicit}: is a folder; --list names the list file itself")
        return explicit
    found = _lists_in(workspace)
    if len(found) > 1:
        shown = ", ".join(os.path.relpath(path, workspace) for path in found)
        raise BadInput(f"{len(found)} database lists in {workspace} ({shown}); choose one with --list FILE "
                       "or [tool.assetdb] database_list")
    return found[0] if found else default_folder / LIST_FILENAME


def the_one_list(workspace: Path) -> Path | None:
    """The work tree's one database list, if it has exactly one (none, or several: None)."""
    try:
        found = find_list(workspace, workspace)
    except BadInput:
        return None
    return found.resolve() if found.is_file() else None


def _real_folder(database: Path) -> Path:
    """``database`` in its folder with the folder's links followed, the file's own not."""
    return resolved(Path(database).absolute().parent) / Path(database).name
