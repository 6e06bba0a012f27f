"""Proof that every stored asset regenerates, and that the workspace is fully stored.

Independent of the writer: it reads bytes back through the same decoder regenerate
uses (size, bounded inflate, SHA-256), and with a workspace it compares each stored
asset with the file on disk and names every candidate file that is not stored.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from ..assets import Classifier
from ..assets.confine import unsafe_reason
from ..assets.stored import StoredAsset, select_assets, stored_bytes
from ..assets.walk import holds_sqlite, list_workspace
from ..errors import CheckFailed
from ..globs import Exclusions
from ..store import read_consolidated
from ..store.owned import DatabaseSet

SHOWN_PATHS = 20


@dataclass
class ReproducibilityReport:
    checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        shown = self.problems[:SHOWN_PATHS]
        more = len(self.problems) - len(shown)
        return "\n".join(shown + ([f"… and {more} more"] if more > 0 else []))


def check_reproducible(
    database: Path | str,
    workspace: Path | str | None = None,
    kinds: tuple[str, ...] = (),
    manager=None,
    exclusions: Exclusions = Exclusions(),
) -> ReproducibilityReport:
    """Every asset regenerates to its recorded hash; with a workspace, every file that
    should be an asset is one, with the same bytes."""

    report = ReproducibilityReport()
    with read_consolidated(database) as (connection, shards):
        assets = select_assets(connection, kinds)
        for asset in assets:
            report.checked += 1
            reason = unsafe_reason(asset.path)
            if reason:
                report.problems.append(f"{asset.name}: unsafe stored path ({reason})")
                continue
            try:
                content = stored_bytes(connection, shards, asset)
            except CheckFailed as error:
                report.problems.append(str(error))
                continue
            if workspace is not None:
                _compare_with_workspace(Path(workspace), asset, content, report)
    if workspace is not None:
        workspace = Path(workspace)
        stored = {asset.path for asset in assets}
        classifier = Classifier.for_workspace(workspace, manager)
        listing = list_workspace(workspace, DatabaseSet.of(Path(database)), exclusions)
        for file in listing.files:
            if file.path in stored or (kinds and classifier.kind_of(file.name) not in kinds):
                continue
            if not holds_sqlite(workspace, file):  # a database under another name is never an asset
                report.problems.append(
                    f"{file.name}: in the workspace but not stored (run: assetdb sync {workspace} --db {database})"
                )
    return report


def _compare_with_workspace(workspace: Path, asset: StoredAsset, content: bytes, report: ReproducibilityReport) -> None:
    full = os.path.join(os.fsencode(workspace), asset.path)
    if not os.path.lexists(full):
        report.problems.append(f"{asset.name}: stored but missing from the workspace")
        return
    if stat.S_ISLNK(asset.mode):
        actual = os.readlink(full) if os.path.islink(full) else None
    else:
        with open(full, "rb") as handle:
            actual = handle.read()
    if actual != content:
        report.problems.append(f"{asset.name}: workspace bytes differ from the stored version {asset.version}")
