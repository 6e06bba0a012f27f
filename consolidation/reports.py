"""How results read as text: aligned tables and one function per report.

The command line, the demo and the gate's summary print through these, so a report reads
the same wherever it is shown.
"""

from __future__ import annotations

from .inventory import Inventory
from .merge import MigrationReport
from .size import format_size


def text_table(headers: tuple[str, ...], rows: list[tuple[str, ...]], numeric: set[int]) -> list[str]:
    """Aligned text columns: numbers right, text left, a rule under the header."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]
    lines = []
    for row in (headers, *rows):
        cells = [
            cell.rjust(width) if index in numeric else cell.ljust(width)
            for index, (cell, width) in enumerate(zip(row, widths))
        ]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * width for width in widths))
    return lines


def render_inventory(inventory: Inventory) -> str:
    headers = ("database", "size", "% cap", "status", "tables", "rows", "journal", "listed")
    rows = []
    for report in inventory.databases:
        listed = "-" if report.listed is None else ("yes" if report.listed else "NO")
        rows.append(
            (
                report.path,
                format_size(report.bytes),
                f"{report.percent_of_limit:.1f}%",
                report.status,
                str(len(report.tables)),
                f"{report.total_rows:,}",
                report.journal_mode or "-",
                listed,
            )
        )
    lines = text_table(headers, rows, numeric={1, 2, 4, 5})
    total = sum(report.bytes for report in inventory.databases)
    counts = {}
    for report in inventory.databases:
        counts[report.status] = counts.get(report.status, 0) + 1
    summary = ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
    lines.append(
        f"{len(inventory.databases)} databases, {format_size(total)} in all, "
        f"cap {format_size(inventory.limit)}: {summary}"
    )
    lines.extend(f"  {report.path}: {report.problem}" for report in inventory.databases
                 if report.problem and report.status != "empty")
    if inventory.list_file is None:
        lines.append("no database list found (CONSOLIDATED_DATABASE_LIST.md): 'listed' is unknown")
    unusable = inventory.unusable
    if unusable:
        lines.append(f"{len(unusable)} unusable: consolidating them needs --skip-unusable (recorded with why) "
                     "or --exclude GLOB" + ("; for Git LFS pointers, run `git lfs pull` first"
                                             if any(r.status == "lfs-pointer" for r in unusable) else ""))
    return "\n".join(lines)


def render_migration(report: MigrationReport) -> str:
    headers = ("source", "action", "tables", "read", "stored", "folded", "conflicts", "shards")
    rows = [
        (
            outcome.name,
            outcome.action,
            str(len(outcome.tables)),
            *(f"{outcome.total(attribute):,}" for attribute in ("rows_read", "rows_stored", "duplicates_folded", "conflicts_kept")),
            str(outcome.shards) if outcome.action != "unchanged" else "-",
        )
        for outcome in report.sources
    ]
    lines = text_table(headers, rows, numeric={2, 3, 4, 5, 6, 7})
    for outcome in report.sources:
        lines.extend(f"  {outcome.name}: {note}" for note in outcome.notes)
    lines.extend(f"left out: {path} ({status}: {reason})" for path, status, reason in report.left_out)
    if report.backup:
        lines.append(f"target backed up first: {report.backup}")
    return "\n".join(lines)


def render_summary(summary, archived: bool) -> str:
    sizes = ", ".join(f"{name} {format_size(size)}" for name, size in summary.sizes.items())
    databases = (f"databases {summary.databases_before} -> {summary.databases_after}" if archived else
                 f"{summary.databases_before} databases consolidated (still in place until --yes archives them)")
    left_out = f", {len(summary.left_out)} left out" if summary.left_out else ""
    return (f"done in {summary.seconds:.1f} s: {databases}{left_out}, {summary.rows:,} rows, "
            f"{summary.conflicts} conflicts kept, {summary.assets} assets, {summary.shards} shard(s): {sizes}")
