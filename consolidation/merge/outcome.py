"""What a migration reports: per source, per table, the rows read and where they went."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class TableOutcome:
    source_table: str
    target_table: str
    rows_read: int = 0
    rows_stored: int = 0
    duplicates_folded: int = 0
    conflicts_kept: int = 0
    note: str | None = None


@dataclass
class SourceOutcome:
    """What happened to one source: ``migrated``, ``remigrated``, ``unchanged`` or ``planned``."""

    name: str
    path: str
    action: str
    tables: list[TableOutcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    shards: int = 1

    def total(self, attribute: str) -> int:
        return sum(getattr(table, attribute) for table in self.tables)


@dataclass
class MigrationReport:
    target: str
    sources: list[SourceOutcome]
    backup: str | None = None
    left_out: list[tuple[Path, str, str]] = field(default_factory=list)  # (file, status, reason)
