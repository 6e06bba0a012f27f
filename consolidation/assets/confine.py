"""Writing stored assets under an output folder, and never outside it.

A consolidated database is a file anyone can edit, so every path, mode and link target
it holds is untrusted. The rules, the sqlite3 shell's for ``-Ax`` or stricter:

* a path is relative, with no ``..``, ``.`` or empty component, no NUL, no component
  longer than a file name may be (:func:`unsafe_reason`);
* only regular files and symlinks are written; of a mode only the permission bits
  (``0o777``) are restored, never setuid, setgid or sticky (:func:`mode_problem`,
  :func:`privilege_note`);
* a symlink whose target, resolved as the kernel would inside the folder, leaves it is
  written only when asked (:func:`link_escape`); links are written after every file, so
  no file is ever written through one.

Confinement is by construction, not by checking a path string: :class:`ConfinedFolder`
opens each folder of a path relative to its parent's descriptor with ``O_NOFOLLOW``
(creating it if missing), so a symlink anywhere under the folder, planted or raced in,
makes the write fail instead of leaving the folder. Each file goes to a temporary name
created with ``O_EXCL`` beside its destination and is renamed into place, which replaces
whatever was there (a symlink included) without writing through it.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from ..errors import BadInput
from ..faults import NO_SPACE_ERRNOS, NOT_WRITABLE_ERRNOS, NotWritable, no_space
from ..leftovers import staging_name, sweep_folder

NAME_MAX = 255  # bytes in one path component, on every file system we write to
PATH_MAX = 4095
PERMISSION_BITS = 0o777
PRIVILEGE_BITS = stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX


def executable(mode: int) -> bool:
    """May the file's owner execute it? The one bit of a mode git keeps (100755 or 100644)."""
    return bool(mode & stat.S_IXUSR)


def stored_mode(mode: int) -> int:
    """A file's mode as ingest stores it: without setuid, setgid and sticky, which regenerate
    never restores (a stored row that asks for one is a tampered row, and verify says so)."""
    return mode & ~PRIVILEGE_BITS
LINK_HOPS = 40  # the kernel's own bound on symlinks followed in one lookup
OPEN_FOLDERS = 256  # folder descriptors kept open between writes
_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_REFUSED_TYPES = {
    stat.S_IFDIR: "a folder entry",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
}


#: Folders that are tool state, never assets: ingest never stores what is under them, and
#: nothing is ever written there from a database (a stored ``.git/hooks/pre-commit`` would
#: run on the next commit). Compared without case: on macOS and Windows ``.GIT`` is ``.git``.
#: (A folder holding ``pyvenv.cfg`` is a virtual environment whatever its name, and skipped
#: by ingest too; a folder merely named ``venv`` may be code.)
NEVER_STORED_FOLDERS = frozenset({b".git", b".hg", b".svn", b".venv", b"__pycache__"})


def unsafe_reason(path: bytes) -> str | None:
    """Why a stored path may not be written under an output folder, or None if it may."""
    if not path:
        return "empty path"
    if b"\0" in path:
        return "NUL in path"
    if path.startswith(b"/") or path.startswith(b"\\") or (len(path) > 1 and path[1:2] == b":"):
        return "absolute path"
    parts = path.split(b"/")
    if any(part in (b"", b".", b"..") for part in parts):
        return "'..', '.' or empty component"
    if len(path) > PATH_MAX or any(len(part) > NAME_MAX for part in parts):
        return f"longer than a path ({PATH_MAX} bytes) or a file name ({NAME_MAX} bytes) may be"
    tool_state = next((part for part in parts if part.lower() in NEVER_STORED_FOLDERS), None)
    if tool_state is not None:  # a file named .git too: it tells git where a worktree's repository is
        return f"{os.fsdecode(tool_state)} is tool state (version control, environments, caches), never an asset"
    return None


def mode_problem(mode: int) -> str | None:
    """Why a stored mode is not one regenerate writes (only files and symlinks), or None."""
    if not 0 <= mode <= 0o177777:
        return f"mode {mode:#o} is not a file mode"
    kind = stat.S_IFMT(mode)
    if kind in _REFUSED_TYPES:
        return f"mode {mode:#o} is {_REFUSED_TYPES[kind]}, not a file or symlink"
    if kind not in (0, stat.S_IFREG, stat.S_IFLNK):
        return f"mode {mode:#o} is not a file or symlink"
    return None


def privilege_note(mode: int) -> str | None:
    """The setuid, setgid or sticky bits a mode asks for (never restored), or None."""
    bits = mode & PRIVILEGE_BITS
    if not bits:
        return None
    names = [name for bit, name in ((stat.S_ISUID, "setuid"), (stat.S_ISGID, "setgid"), (stat.S_ISVTX, "sticky"))
             if bits & bit]
    return f"stored mode {mode:#o} asks for {'/'.join(names)}"


def link_target_problem(target: bytes) -> str | None:
    if not target:
        return "an empty symlink target"
    if b"\0" in target:
        return "NUL in its symlink target"
    return None


def link_escape(
    link: bytes, target: bytes, links: Mapping[bytes, bytes], on_disk: Callable[[bytes], bytes | None] | None = None
) -> str | None:
    """Where the symlink at ``link`` would lead out of the folder, or None if it stays in.

    The target is resolved as the kernel would: component by component, ``..`` climbing
    from the folder reached so far, following the stored ``links`` (and, through
    ``on_disk``, links already in the folder). A path out of the folder, or an absolute
    target, escapes; a loop leads nowhere and so does not.
    """
    resolved: list[bytes] = link.split(b"/")[:-1]
    pending = target.split(b"/")
    if target.startswith(b"/"):
        return f"its target {os.fsdecode(target)!r} is absolute"
    hops = 0
    while pending:
        part = pending.pop(0)
        if part in (b"", b"."):
            continue
        if part == b"..":
            if not resolved:
                return f"its target {os.fsdecode(target)!r} leads out of the folder"
            resolved.pop()
            continue
        candidate = b"/".join([*resolved, part])
        followed = links.get(candidate)
        if followed is None and on_disk is not None:
            followed = on_disk(candidate)
        if followed is None:
            resolved.append(part)
            continue
        hops += 1
        if hops > LINK_HOPS:
            return None
        if followed.startswith(b"/"):
            return f"its target {os.fsdecode(target)!r} leads through {os.fsdecode(candidate)!r} to an absolute path"
        pending = followed.split(b"/") + pending
    return None


def check_room(folder: Path, needed: int) -> None:
    """Refuse, before writing, a set of files the folder's file system has no room for."""
    try:
        info = os.statvfs(folder)
    except OSError:
        return  # nothing to measure yet (or not measurable): the writes will say
    free = info.f_bavail * info.f_frsize
    if needed > free:
        raise no_space(folder, "writing the assets", needed)


class ConfinedFolder:
    """Writes files and symlinks under one folder, and cannot write anywhere else; all of
    them or none.

    Each write is staged under a temporary name beside its destination; :meth:`commit`
    renames them all into place, and leaving without committing (a refused blob, a hash
    that does not match, an interrupt) removes every temporary and every folder the run
    made, so a refusal found while writing leaves the folder as it was.

    Thread-safe: regenerate stages from a pool. Folder descriptors are cached (bounded);
    each write works on a duplicate of its folder's, so evicting the cache never pulls a
    descriptor from under a write.
    """

    def __init__(self, root: Path):
        self.root = Path(root)
        self._made_root = not self.root.exists()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self._root = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as error:
            raise BadInput(f"{self.root}: cannot write here ({error.strerror})") from None
        sweep_folder(self.root, at=self._root)  # what a killed run staged here
        self._folders: dict[bytes, int] = {}
        self._made: list[bytes] = []  # folders this run created, parents first
        self._staged: list[tuple[bytes, bytes]] = []  # (path, temporary name beside it)
        self._lock = threading.Lock()
        self._committed = False

    def __enter__(self) -> ConfinedFolder:
        return self

    def __exit__(self, *_) -> None:
        try:
            if not self._committed:
                self._discard()
        finally:
            self._close()

    def _close(self) -> None:
        with self._lock:
            for descriptor in self._folders.values():
                os.close(descriptor)
            self._folders.clear()
        os.close(self._root)

    def _refuse(self, path: bytes, reason: str, outcome: str = "nothing was written") -> BadInput:
        return BadInput(f"refusing stored path {os.fsdecode(path)!r}: {reason}; {outcome}")

    def _folder(self, path: bytes) -> int:
        """A new descriptor of the folder that holds ``path``, each folder on the way
        opened without following a symlink, and created when missing."""
        parts = path.split(b"/")[:-1]
        with self._lock:
            if len(self._folders) > OPEN_FOLDERS:
                for descriptor in self._folders.values():
                    os.close(descriptor)
                self._folders.clear()
            parent = self._root
            for depth in range(1, len(parts) + 1):
                prefix = b"/".join(parts[:depth])
                descriptor = self._folders.get(prefix)
                if descriptor is None:
                    descriptor = self._open_folder(parent, parts[depth - 1], path, prefix)
                    self._folders[prefix] = descriptor
                parent = descriptor
            return os.dup(parent)

    def _open_folder(self, parent: int, name: bytes, path: bytes, prefix: bytes) -> int:
        for _ in range(2):
            try:
                descriptor = os.open(name, _FOLDER_FLAGS, dir_fd=parent)
                sweep_folder(prefix, at=descriptor)  # what a killed run staged here
                return descriptor
            except FileNotFoundError:
                try:
                    os.mkdir(name, 0o777, dir_fd=parent)
                    self._made.append(prefix)
                except FileExistsError:
                    pass  # made meanwhile: open it, still without following
            except OSError as error:
                if error.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
                    what = "a symlink" if os.path.islink(os.path.join(os.fsencode(self.root), prefix)) else "not a folder"
                    raise self._refuse(path, f"{os.fsdecode(prefix)!r} in {self.root} is {what}") from None
                raise self._refuse(path, f"cannot open {os.fsdecode(prefix)!r} ({error.strerror})") from None
        raise self._refuse(path, f"{os.fsdecode(prefix)!r} keeps changing")

    def _stage(self, path: bytes, create: Callable[[int, bytes], None]) -> None:
        """Create ``path``'s temporary with ``create(folder, name)`` and remember it."""
        folder = self._folder(path)
        try:
            for _ in range(8):
                name = staging_name(secrets.token_hex(8))
                try:
                    create(folder, name)
                except FileExistsError:
                    continue
                with self._lock:
                    self._staged.append((path, name))
                return
            raise BadInput("cannot find a free temporary name")
        except OSError as error:
            if error.errno in NO_SPACE_ERRNOS:
                raise no_space(self.root, f"writing {os.fsdecode(path)}") from None
            if error.errno in NOT_WRITABLE_ERRNOS:
                raise NotWritable(f"{self.root}: cannot write {os.fsdecode(path)} ({_reason(error)}); "
                                  "nothing was written") from None
            raise self._refuse(path, _reason(error)) from None
        except (OverflowError, ValueError) as error:
            raise self._refuse(path, _reason(error)) from None
        finally:
            os.close(folder)

    def stage_file(self, path: bytes, chunks: Iterable[bytes], mode: int, mtime_ns: int) -> int:
        """Write ``path``'s bytes from ``chunks`` (each checked by whoever yields it; a
        refusal midway leaves nothing) with ``mode``'s permission bits and ``mtime_ns``,
        under a temporary name until :meth:`commit`. Returns the bytes written."""
        written = 0

        def create(folder: int, name: bytes) -> None:
            nonlocal written
            descriptor = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                                 dir_fd=folder)
            try:
                with os.fdopen(descriptor, "wb") as handle:
                    for chunk in chunks:
                        handle.write(chunk)
                        written += len(chunk)
                    handle.flush()
                    os.fchmod(handle.fileno(), mode & PERMISSION_BITS)
                    os.utime(handle.fileno(), ns=(mtime_ns, mtime_ns))
            except BaseException:
                _unlink_quietly(name, folder)
                raise

        self._stage(path, create)
        return written

    def stage_link(self, path: bytes, target: bytes, mtime_ns: int) -> None:
        """Create the symlink ``path`` -> ``target`` (judged beforehand) until :meth:`commit`."""

        def create(folder: int, name: bytes) -> None:
            os.symlink(target, name, dir_fd=folder)
            try:
                os.utime(name, ns=(mtime_ns, mtime_ns), dir_fd=folder, follow_symlinks=False)
            except BaseException:
                _unlink_quietly(name, folder)
                raise

        self._stage(path, create)

    def commit(self) -> None:
        """Rename every staged file and link into place, in the order staged; each rename
        replaces what is there (a symlink included) without writing through it."""
        for index, (path, name) in enumerate(self._staged):
            folder = self._folder(path)
            try:
                final = path.rsplit(b"/", 1)[-1]
                try:
                    in_place = os.lstat(final, dir_fd=folder)
                except FileNotFoundError:
                    in_place = None
                if in_place is not None and stat.S_ISDIR(in_place.st_mode):
                    raise IsADirectoryError(errno.EISDIR, f"a folder appeared in its place in {self.root}")
                os.replace(name, final, src_dir_fd=folder, dst_dir_fd=folder)
            except OSError as error:
                del self._staged[:index]  # those are in place; the rest are discarded on leaving
                raise self._refuse(path, _reason(error), f"the {index} written before it stay, the rest do not") from None
            finally:
                os.close(folder)
        self._staged.clear()
        self._committed = True

    def _discard(self) -> None:
        for path, name in self._staged:
            try:
                folder = self._folder(path)
            except BadInput:
                continue
            _unlink_quietly(name, folder)
            os.close(folder)
        self._staged.clear()
        for prefix in reversed(list(self._made)):
            parent, _, name = prefix.rpartition(b"/")
            try:
                folder = self._folder(prefix) if parent else os.dup(self._root)
                try:
                    os.rmdir(name, dir_fd=folder)
                finally:
                    os.close(folder)
            except (OSError, BadInput):
                continue
        if self._made_root:
            try:
                os.rmdir(self.root)
            except OSError:
                pass


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror[0].lower() + error.strerror[1:]
    return str(error)


def _unlink_quietly(name: bytes, folder: int) -> None:
    try:
        os.unlink(name, dir_fd=folder)
    except OSError:
        pass
