"""Judging a selection of stored assets as hostile input, before anything is written.

Regenerate, sync's pull and the reproducibility proof all ask the same questions of
every row, here, so what one refuses the others report:

* is each field what assetdb writes, is the path safe, is the mode a file's or a link's;
* does the declared size fit what the stored bytes could inflate to, and the cap;
* as a tree: is any path stored twice, does any pass through a stored symlink or use a
  stored file as a folder, does any symlink lead out of the folder;
* under an existing folder: does any path go through a symlink or file already there.

Setuid, setgid and sticky bits are never restored; regenerate and pull warn (one line
per file), the proof reports them, so CI catches a poisoned database first.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import BadInput, CheckFailed
from ..store.owned import DatabaseSet
from .asset_rows import StoredAsset
from .confine import (
    link_escape,
    link_target_problem,
    mode_problem,
    privilege_note,
    unsafe_reason,
)
from .stored import (
    DEFAULT_MAX_FILE_SIZE,
    StoredBlob,
    decoded_chunks,
    locate_blob,
    read_blob,
    size_problem,
)


@dataclass(frozen=True)
class Planned:
    asset: StoredAsset
    blob: StoredBlob
    target: bytes | None = None  # a symlink's target, read and hash-checked while judging


@dataclass
class Judgement:
    files: list[Planned] = field(default_factory=list)
    links: list[Planned] = field(default_factory=list)  # written after every file
    problems: list[tuple[StoredAsset, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: Problems with what is already in the target folder, not with the database: verify,
    #: which reads the database alone, cannot name them.
    in_the_folder: int = 0

    def refuse_if_any(self) -> None:
        """One line for the first problem (and how many more), before anything is written."""
        if self.problems:
            asset, reason = self.problems[0]
            where = "" if self.in_the_folder else ": run assetdb verify"
            more = f" (+{len(self.problems) - 1} more{where})" if len(self.problems) > 1 else ""
            raise BadInput(f"refusing {asset.row}: {reason}{more}; nothing was written")


def judge(
    connection: sqlite3.Connection,
    shards: dict[int, str],
    selection: list[StoredAsset],
    universe: list[StoredAsset] | None = None,
    root: Path | None = None,
    allow_outside_links: bool = False,
    max_file_size: int = DEFAULT_MAX_FILE_SIZE,
    privileges_are_problems: bool = False,
    accepted_links: frozenset[tuple[bytes, bytes]] = frozenset(),
    as_tree: bool = True,
    database_set: DatabaseSet | None = None,
) -> Judgement:
    """Judge ``selection`` (within ``universe``, every asset of the same moment, for the
    tree questions) as it would be written under ``root`` (None: no folder yet).
    ``as_tree=False`` judges each row alone (past versions, which no one moment holds
    together): its own fields, bytes, and where its own target leads. Under ``root``, no
    row may be one of ``database_set``'s own files (the consolidated file, its shards, its
    list): written there, it would replace them."""
    universe = selection if universe is None else universe
    judgement = Judgement()
    sound: list[Planned] = []
    for asset in selection:
        reason, planned = _judge_row(connection, shards, asset, max_file_size)
        if not reason and root is not None and database_set is not None \
                and database_set.owns(os.path.join(os.fsencode(root), asset.path), aliases=False):
            reason = "a file of the consolidated set itself, which is never an asset"
        if reason:
            judgement.problems.append((asset, reason))
            continue
        note = privilege_note(asset.mode)
        if note and privileges_are_problems:
            judgement.problems.append((asset, f"{note}, which regenerate never restores"))
            continue
        if note:
            judgement.warnings.append(f"{asset.name!r}: {note}; written as {asset.mode & 0o777:#o}")
        sound.append(planned)
    links = _stored_links(connection, shards, universe, sound) if as_tree else {}
    tree = _tree_problems(sound, universe, links) if as_tree else {}
    on_disk_in_the_way = _disk_problems(sound, tree, root) if as_tree and root is not None else {}
    on_disk = _disk_reader(root, {asset.path for asset in universe})
    for planned in sound:
        asset = planned.asset
        reason = tree.get(asset.path) or on_disk_in_the_way.get(asset.path)
        judgement.in_the_folder += int(asset.path in on_disk_in_the_way and asset.path not in tree)
        if reason is None and planned.target is not None and not allow_outside_links \
                and (asset.path, planned.target) not in accepted_links:
            escape = link_escape(asset.path, planned.target, links, on_disk)
            if escape:
                reason = f"a symlink out of the folder: {escape} (write it anyway with --allow-outside-links)"
        if reason:
            judgement.problems.append((asset, reason))
        elif planned.target is None:
            judgement.files.append(planned)
        else:
            judgement.links.append(planned)
    return judgement


def _judge_row(connection, shards, asset: StoredAsset, max_file_size: int) -> tuple[str | None, Planned | None]:
    if asset.defect:
        return asset.defect, None
    reason = unsafe_reason(asset.path)
    if reason:
        return f"unsafe stored path ({reason})", None
    reason = mode_problem(asset.mode)
    if reason:
        return reason, None
    blob = locate_blob(connection, shards, asset)
    reason = size_problem(asset, blob, shards, max_file_size)
    if reason:
        return reason, None
    if not asset.is_link:
        return None, Planned(asset, blob)
    try:
        target = b"".join(decoded_chunks(asset, blob, [read_blob(connection, blob)]))
    except (BadInput, CheckFailed) as error:
        return str(error).removeprefix(f"{asset.row}: "), None
    reason = link_target_problem(target)
    return reason, None if reason else Planned(asset, blob, target)


def _stored_links(connection, shards, universe: list[StoredAsset], sound: list[Planned]) -> dict[bytes, bytes]:
    """Every symlink of the moment by path, targets read (those outside the selection too:
    a link elsewhere in the tree still steers where a selected one leads)."""
    links = {planned.asset.path: planned.target for planned in sound if planned.target is not None}
    for asset in universe:
        if asset.is_link and asset.path not in links and not asset.defect and not unsafe_reason(asset.path):
            _, planned = _judge_row(connection, shards, asset, DEFAULT_MAX_FILE_SIZE)
            if planned is not None and planned.target is not None:
                links[asset.path] = planned.target
    return links


def _tree_problems(sound: list[Planned], universe: list[StoredAsset], links: dict[bytes, bytes]) -> dict[bytes, str]:
    """Paths the database cannot give as a tree: stored twice, under a stored symlink or file."""
    problems: dict[bytes, str] = {}
    rows: dict[bytes, list[StoredAsset]] = {}
    for asset in universe:
        rows.setdefault(asset.path, []).append(asset)
    for planned in sound:
        path = planned.asset.path
        if len(rows.get(path, ())) > 1:
            problems[path] = "stored twice (" + " and ".join(asset.row for asset in rows[path]) + ")"
            continue
        parts = path.split(b"/")
        for depth in range(1, len(parts)):
            prefix = b"/".join(parts[:depth])
            if prefix in links:
                problems[path] = f"it passes through the stored symlink {os.fsdecode(prefix)!r}"
                break
            if prefix in rows:
                problems[path] = f"it uses the stored file {os.fsdecode(prefix)!r} as a folder"
                break
    return problems


def _disk_problems(sound: list[Planned], known: dict[bytes, str], root: Path) -> dict[bytes, str]:
    """What is already under ``root`` in the way: a symlink or a file where a folder must
    be (the writer would refuse it anyway; judging it first keeps the run all or nothing),
    a folder where a file goes."""
    base = os.fsencode(root)
    kinds: dict[bytes, int | None] = {}

    def kind_of(relative: bytes) -> int | None:
        if relative not in kinds:
            try:
                kinds[relative] = stat.S_IFMT(os.lstat(os.path.join(base, relative)).st_mode)
            except OSError:
                kinds[relative] = None
        return kinds[relative]

    problems = {}
    for planned in sound:
        path = planned.asset.path
        if path in known:
            continue
        parts = path.split(b"/")
        for depth in range(1, len(parts)):
            prefix = b"/".join(parts[:depth])
            kind = kind_of(prefix)
            if kind is None:
                break  # missing: made by this run, and nothing below it exists either
            if kind != stat.S_IFDIR:
                what = "a symlink" if kind == stat.S_IFLNK else "not a folder"
                problems[path] = f"{os.fsdecode(prefix)!r} in {root} is {what}"
                break
        else:
            if kind_of(path) == stat.S_IFDIR:
                problems[path] = f"a folder is in its place in {root}"
    return problems


def _disk_reader(root: Path | None, replaced: set[bytes]):
    """Reads symlinks already in ``root`` that the run leaves in place (for where a
    stored link would lead)."""
    if root is None:
        return None
    base = os.fsencode(root)

    def read(relative: bytes) -> bytes | None:
        if relative in replaced:
            return None
        try:
            return os.readlink(os.path.join(base, relative))
        except OSError:
            return None

    return read
