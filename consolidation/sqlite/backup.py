"""Verified backups and restores: nothing under version control changes without one.

A backup is made with SQLite's online backup API from a read-only view of the source,
written under a temporary name, proved with ``integrity_check`` and a logical content
fingerprint equal to the source's, and only then renamed into place beside a JSON
manifest. Backups must live outside the workspace: a backup inside the repository is
one ``git clean`` or one bad commit away from the data it protects.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..errors import Aborted, BadInput
from ..leftovers import sweep_folder, temporary_beside
from .fingerprint import FORMAT, database_fingerprint, file_sha256, fingerprint_format
from .header import EmptyDatabase, NotADatabase, read_header
from .locks import LOCK_TIMEOUT_SECONDS
from .readonly import open_readonly

MANIFEST_SUFFIX = ".json"


@dataclass(frozen=True)
class BackupRecord:
    """What the manifest beside a backup says; enough to prove the backup later."""

    backup: str
    source: str
    created_at: str
    bytes: int
    file_sha256: str
    fingerprint: str


def default_backup_directory() -> Path:
    """Where backups go unless told: outside any workspace, in the user's state folder."""
    configured = os.environ.get("ASSETDB_BACKUP_DIR")
    if configured:
        return Path(configured)
    state = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(state) / "assetdb" / "backups"


def find_workspace(path: Path) -> Path:
    """The workspace a file or folder belongs to: its Git work tree, else its own folder."""
    # a file's own folder, the file not followed: a symlink (a loop too) belongs where it sits
    start = path.resolve() if path.is_dir() else path.absolute().parent.resolve()
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return start


def refuse_inside_workspace(directory: Path, workspace: Path) -> None:
    resolved, workspace = directory.resolve(), workspace.resolve()
    if resolved == workspace or workspace in resolved.parents:
        raise BadInput(
            f"{directory}: backup location is inside the workspace {workspace}; "
            "choose a directory outside it"
        )


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _prove(path: Path, expected_fingerprint: str, what: str, form: int = FORMAT) -> None:
    """Raise ``Aborted`` unless ``path`` passes integrity_check and has the fingerprint
    (taken in format ``form``)."""
    try:
        with open_readonly(path) as connection:
            verdict = [row[0] for row in connection.execute("PRAGMA integrity_check")]
            fingerprint = database_fingerprint(connection, form)
    except (NotADatabase, sqlite3.DatabaseError) as error:
        raise Aborted(f"{what} {path} is unreadable ({error})") from None
    if verdict != ["ok"]:
        raise Aborted(f"{what} {path} failed integrity_check: {verdict[0]}")
    if fingerprint != expected_fingerprint:
        raise Aborted(f"{what} {path} does not match its source's content")


def _put_in_place(partial: Path, source: Path, directory: Path, now: datetime) -> Path:
    """Give the proved ``partial`` its name, ``NAME.TIMESTAMP.db`` (``-2``, ``-3``… when
    taken), never over another backup: a hard link fails on a name that exists, so two
    backups of same-named files taken at once (``databases/a.db``, ``archive/a.db``)
    each keep their own."""
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    counter = 1
    while True:
        candidate = directory / f"{source.stem}.{stamp}{'' if counter == 1 else f'-{counter}'}{source.suffix}"
        counter += 1
        try:
            os.link(partial, candidate)
        except FileExistsError:
            continue
        except OSError:  # a file system without hard links: the name is claimed, then taken
            try:
                os.close(os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                continue
            os.replace(partial, candidate)
            return candidate
        partial.unlink()
        return candidate


def backup_database(source: Path | str, directory: Path | str, workspace: Path | None = None) -> BackupRecord:
    """Copy ``source`` into ``directory`` (outside ``workspace``) and prove the copy."""
    source, directory = Path(source), Path(directory)
    refuse_inside_workspace(directory, workspace or find_workspace(source))
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BadInput(f"{directory}: cannot create backup directory ({error.strerror})") from None
    now = datetime.now(timezone.utc)
    partial = temporary_beside(directory / f"{source.name}.{secrets.token_hex(4)}", "backup")  # one per backup
    sweep_folder(directory)  # what killed backups left
    try:  # made first, so a folder that takes no file (read-only, immutable) is named as such
        os.close(os.open(partial, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except OSError as error:
        raise Aborted(f"backup of {source} failed: cannot write into {directory} ({error.strerror}); "
                      "nothing was kept") from None
    try:
        with open_readonly(source) as reader:
            fingerprint = database_fingerprint(reader)
            writer = sqlite3.connect(partial)
            try:
                reader.backup(writer)
            finally:
                writer.close()
        _prove(partial, fingerprint, "backup")
        _fsync(partial)
        final = _put_in_place(partial, source, directory, now)
    except sqlite3.Error as error:
        raise Aborted(f"backup of {source} failed ({error}); nothing was kept") from None
    except OSError as error:
        raise Aborted(f"backup of {source} failed ({error.strerror}); nothing was kept") from None
    finally:
        partial.unlink(missing_ok=True)
    record = BackupRecord(
        backup=str(final.resolve()),
        source=str(source.resolve()),
        created_at=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        bytes=final.stat().st_size,
        file_sha256=file_sha256(final),
        fingerprint=fingerprint,
    )
    Path(f"{final}{MANIFEST_SUFFIX}").write_text(json.dumps(asdict(record), indent=2) + "\n")
    return record


def read_manifest(backup: Path) -> BackupRecord | None:
    manifest = Path(f"{backup}{MANIFEST_SUFFIX}")
    if not manifest.is_file():
        return None
    try:
        record = BackupRecord(**json.loads(manifest.read_text()))
    except (ValueError, TypeError) as error:
        raise BadInput(f"{manifest}: not a backup manifest ({error})") from None
    if not isinstance(record.fingerprint, str):
        raise BadInput(f"{manifest}: not a backup manifest (its fingerprint is not text)")
    return record


def _require_writable(target: Path) -> None:
    try:
        os.close(os.open(target, os.O_RDWR))
    except OSError as error:
        raise BadInput(f"{target}: cannot be written ({error.strerror}); nothing was restored") from None


def _discard(record: BackupRecord | None) -> None:
    """Remove a safety backup whose restore never changed its target."""
    if record is not None:
        for path in (Path(record.backup), Path(f"{record.backup}{MANIFEST_SUFFIX}")):
            path.unlink(missing_ok=True)


def restore_database(backup: Path | str, target: Path | str, safety_directory: Path | None = None) -> BackupRecord | None:
    """Write ``backup`` over ``target`` in one transaction, after proving the backup.

    An existing target is itself backed up first, to ``safety_directory`` (default: the
    backup's folder), so a restore can be undone. Returns that safety backup's record.
    """
    backup, target = Path(backup), Path(target)
    if not backup.is_file():
        raise BadInput(f"{backup}: no such backup file")
    try:
        read_header(backup)
    except (EmptyDatabase, NotADatabase) as error:
        raise BadInput(f"not a restorable backup: {error}") from None
    manifest = read_manifest(backup)
    form = FORMAT if manifest is None else fingerprint_format(manifest.fingerprint)  # as it was recorded
    with open_readonly(backup) as reader:
        expected = database_fingerprint(reader, form)
    if manifest is not None and manifest.fingerprint != expected:
        raise BadInput(f"{backup}: content does not match its manifest; refusing to restore")
    _prove(backup, expected, "backup", form)

    if target.is_dir() and not target.is_symlink():
        raise BadInput(f"{target}: is a folder; --to names the database file to write")
    if target.is_symlink():  # written through, it would change a file elsewhere, and the link stay a link
        raise BadInput(f"{target}: is a symlink (to {os.readlink(target)}); give the file's own path, or remove the "
                       "link first (a restore writes a file in its place)")
    safety = None
    if target.exists():
        try:
            read_header(target)
        except NotADatabase:
            raise BadInput(f"{target}: exists and is not a SQLite database; refusing to overwrite it") from None
        except EmptyDatabase:
            pass
        else:
            _require_writable(target)  # before its safety backup: a refused restore leaves none behind
            safety = backup_database(target, safety_directory or backup.parent)
    elif not target.parent.is_dir():
        raise BadInput(f"{target.parent}: no such directory")

    try:
        with open_readonly(backup) as reader:
            writer = sqlite3.connect(target, timeout=LOCK_TIMEOUT_SECONDS)
            try:
                reader.backup(writer)
            finally:
                writer.close()
    except sqlite3.OperationalError as error:
        _discard(safety)  # the backup API changed nothing: the target is as it was
        if "locked" in str(error) or "busy" in str(error):
            raise Aborted(f"{target}: locked by another process; nothing was restored") from None
        raise BadInput(f"{target}: cannot write ({error}; its folder {target.parent} takes its journal); "
                       "nothing was restored") from None
    _prove(target, expected, "restored database", form)
    return safety
