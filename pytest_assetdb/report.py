"""What the gate tells at the end: a summary table, and the ``pytest_assetdb_report`` hook.

Only the controller reports (with xdist, the workers' results reach it as reports), so
the summary appears once whatever ``-n`` is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from consolidation.reports import text_table
from consolidation.size import format_size

from .checks import share_of_cap


@dataclass
class DatabaseSummary:
    """What the gate found for one database (passed to ``pytest_assetdb_report``)."""

    database: str
    passed: int = 0
    failed: int = 0
    figures: dict[str, object] = field(default_factory=dict)
    skipped: str | None = None  # why the gate did not check it (a file the set left out)
    warning: str | None = None  # why it passed but deserves a look (near the cap)

    @property
    def checks(self) -> int:
        return self.passed + self.failed


class GateReporter:
    """Collects the gate's reports (from xdist workers too) and summarises at the end."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self.databases: dict[str, DatabaseSummary] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        properties = dict(report.user_properties)
        if report.when != "call" and not (report.failed and report.when == "setup"):
            return
        if "assetdb_check" not in properties:
            return
        database = report.nodeid.split("::", 1)[0]
        summary = self.databases.setdefault(database, DatabaseSummary(database))
        if report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            summary.skipped = reason.removeprefix("Skipped: ")
        elif report.passed:
            summary.passed += 1
        else:
            summary.failed += 1
        if properties.get("assetdb_check") == "size":
            summary.figures.update({k: v for k, v in properties.items() if k not in ("assetdb_check", "assetdb_warning")})
        if "assetdb_warning" in properties:
            summary.warning = properties["assetdb_warning"]

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if not self.databases:
            return
        terminalreporter.section("assetdb gate")
        rows = []
        for summary in sorted(self.databases.values(), key=lambda s: s.database):
            size, limit = summary.figures.get("bytes"), summary.figures.get("limit")
            rows.append(
                (
                    summary.database + (" (near the cap)" if summary.warning else ""),
                    format_size(int(size)) if size is not None else "-",
                    share_of_cap(int(size), int(limit)) if size is not None and limit else "-",
                    "skipped" if summary.skipped and not summary.checks else f"{summary.passed}/{summary.checks}",
                )
            )
        for line in text_table(("database", "size", "% of cap", "checks passed"), rows, numeric={1, 2, 3}):
            terminalreporter.write_line(line)
        for summary in sorted(self.databases.values(), key=lambda s: s.database):
            if summary.skipped:
                terminalreporter.write_line(f"skipped {summary.database}: {summary.skipped}")

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        terminal = self.config.pluginmanager.get_plugin("terminalreporter")
        if terminal is not None:  # what a report hook prints starts a line, never pytest's progress line
            terminal.ensure_newline()
            writer = self.config.get_terminal_writer()
            if writer.width_of_current_line:  # xdist's progress line, which ensure_newline does not know of
                writer.line()
        self.config.hook.pytest_assetdb_report(
            config=self.config, databases=sorted(self.databases.values(), key=lambda s: s.database)
        )
