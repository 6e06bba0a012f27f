"""Aligned text tables: the one printer the command line and the gate's summary share."""

from __future__ import annotations


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
