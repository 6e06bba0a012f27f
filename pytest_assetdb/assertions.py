"""Assertion helpers for validation tests: one call, a failure message that says what
is wrong and what to run."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from consolidation.proof import check_reproducible, verify_database
from consolidation.size import database_size, format_size

SHOWN = 20


def assert_under_limit(path: Path | str, limit: int) -> None:
    """The database (``-wal`` and ``-journal`` included) is at most ``limit`` bytes."""
    size = database_size(Path(path))
    if size > limit:
        raise AssertionError(
            f"{path} is over the cap: {format_size(size)} > {format_size(limit)} ({size:,} > {limit:,} bytes) "
            f"— run: assetdb migrate {path} --into enterprise_assets.db to partition it"
        )


def _shown(problems: list[str]) -> str:
    lines = problems[:SHOWN]
    if len(problems) > SHOWN:
        lines.append(f"… and {len(problems) - SHOWN} more")
    return "\n".join(f"  {line}" for line in lines)


def assert_lossless(consolidated: Path | str, sources: Iterable[Path | str] = ()) -> None:
    """Every migrated row is in ``consolidated``: compared live with ``sources`` where
    given, with the ledger's fingerprints otherwise."""
    report = verify_database(consolidated, list(sources))
    if not report.ok:
        failures = report.failures()
        raise AssertionError(
            f"{len(failures)} lossless problems in {consolidated} — run: assetdb verify {consolidated}\n"
            + _shown(failures)
        )


def assert_reproducible(database: Path | str, workspace: Path | str | None = None) -> None:
    """Every stored asset regenerates to its hash (and matches ``workspace``, if given)."""
    report = check_reproducible(database, workspace)
    if not report.ok:
        raise AssertionError(
            f"{len(report.problems)} of {report.checked} assets do not reproduce — run: assetdb verify {database}"
            + (f" --workspace {workspace}" if workspace else "")
            + "\n"
            + _shown(report.problems)
        )
