"""The ``--assetdb`` gate: every database under pytest's paths becomes check items.

``pytest --assetdb databases/`` collects each ``*.db``/``*.sqlite``/``*.sqlite3`` file as
a :class:`DatabaseFile` whose items (``databases/foo.db::size``,
``databases/foo.db::integrity``) run the checks of :mod:`consolidation.checks`. Without
``--assetdb`` the plugin collects nothing, so installing it never changes a test run.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest

from consolidation.checks import (
    CheckResult,
    asset_kinds,
    check_integrity,
    check_lossless,
    check_rebuildable,
    check_reproducible_kind,
    check_size,
    migrated_sources,
)
from consolidation.config import load_settings
from consolidation.errors import BadInput
from consolidation.inventory import is_database_path
from consolidation.size import parse_size

SIZE_LIMIT_KEY = pytest.StashKey[int]()
WORKSPACE_KEY = pytest.StashKey["Path | None"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("assetdb", "SQLite database gate (pytest-assetdb)")
    group.addoption(
        "--assetdb",
        action="store_true",
        default=False,
        help="collect SQLite databases under the given paths as gate items (size, integrity)",
    )
    group.addoption(
        "--assetdb-limit",
        metavar="SIZE",
        default=None,
        help="size cap per database (99.9MB, 95MiB, 1.5GB or bytes); "
        "overrides ini assetdb_size_limit and [tool.assetdb] size_limit",
    )
    group.addoption(
        "--assetdb-workspace",
        metavar="DIR",
        default=None,
        help="workspace the reproducible[KIND] items compare stored assets with; overrides ini assetdb_workspace",
    )
    parser.addini(
        "assetdb_size_limit",
        "size cap per database for --assetdb (99.9MB, 95MiB, 1.5GB or bytes)",
        default="",
    )
    parser.addini("assetdb_workspace", "workspace for reproducible[KIND] items (relative to the rootdir)", default="")


def resolve_limit(config: pytest.Config) -> int:
    """``--assetdb-limit``, else ini ``assetdb_size_limit``, else ``[tool.assetdb]``, else 99.9 MB."""
    for source, value in (
        ("--assetdb-limit", config.getoption("assetdb_limit")),
        ("assetdb_size_limit", config.getini("assetdb_size_limit")),
    ):
        if value:
            try:
                return parse_size(value)
            except BadInput as error:
                raise pytest.UsageError(f"{source}: {error}") from None
    try:
        return load_settings(config.rootpath).size_limit
    except BadInput as error:
        raise pytest.UsageError(str(error)) from None


def resolve_workspace(config: pytest.Config) -> Path | None:
    """``--assetdb-workspace``, else ini ``assetdb_workspace`` (relative to the rootdir), else none."""
    option = config.getoption("assetdb_workspace")
    if option:
        workspace = Path(option).resolve()
    elif config.getini("assetdb_workspace"):
        workspace = (config.rootpath / config.getini("assetdb_workspace")).resolve()
    else:
        return None
    if not workspace.is_dir():
        raise pytest.UsageError(f"assetdb workspace {workspace} is not a folder")
    return workspace


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "assetdb: a database check collected by --assetdb")
    if config.getoption("assetdb"):
        config.stash[SIZE_LIMIT_KEY] = resolve_limit(config)
        config.stash[WORKSPACE_KEY] = resolve_workspace(config)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if parent.config.getoption("assetdb") and is_database_path(file_path):
        return DatabaseFile.from_parent(parent, path=file_path)
    return None


class CheckFailure(Exception):
    """An expected gate failure: reported by its message alone, without a traceback."""


class DatabaseFile(pytest.File):
    """One database file; yields one item per check, in a stable order.

    A consolidated database also yields ``lossless[SOURCE:TABLE]`` for every migrated
    source table, ``rebuildable[SOURCE]`` for every source and ``reproducible[KIND]`` for
    every kind of asset it stores; its ledger is read here, once per process, not once
    per item.
    """

    def collect(self):
        for name in CHECKS:
            yield self._item(name, CHECKS[name])
        sources = migrated_sources(self.path)
        for source in sources:
            for table in source.tables:
                yield self._item(
                    f"lossless[{source.name}:{table.source_table}]",
                    partial(_lossless, source=source.name, table=table.source_table),
                )
        for source in sources:
            yield self._item(f"rebuildable[{source.name}]", partial(_rebuildable, source=source.name))
        for kind in asset_kinds(self.path):
            yield self._item(f"reproducible[{kind}]", partial(_reproducible, kind=kind))

    def _item(self, name: str, check) -> CheckItem:
        item = CheckItem.from_parent(self, name=name, check=check)
        item.add_marker("assetdb")
        return item


class CheckItem(pytest.Item):
    """Runs one check and records its figures as JUnit properties."""

    def __init__(self, *, check, **kwargs):
        super().__init__(**kwargs)
        self.check = check

    def runtest(self) -> None:
        result: CheckResult = self.check(self)
        self.user_properties.extend(result.figures.items())
        if not result.ok:
            raise CheckFailure(result.message)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, CheckFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        # The failure headline: "size: databases/foo.db" (a dot-free check name first,
        # so pytest's verbose output keeps showing the plain node id).
        return self.path, None, f"{self.name}: {self.parent.nodeid}"

    @property
    def shown_path(self) -> str:
        """The database path as the user would type it from where pytest was started."""
        try:
            return str(self.path.relative_to(self.config.invocation_params.dir))
        except ValueError:
            return str(self.path)


def _lossless(item: CheckItem, source: str, table: str) -> CheckResult:
    return check_lossless(item.path, source, table, item.shown_path)


def _rebuildable(item: CheckItem, source: str) -> CheckResult:
    return check_rebuildable(item.path, source, item.shown_path)


def _reproducible(item: CheckItem, kind: str) -> CheckResult:
    return check_reproducible_kind(item.path, kind, item.config.stash[WORKSPACE_KEY], item.shown_path)


CHECKS = {
    "size": lambda item: check_size(item.path, item.config.stash[SIZE_LIMIT_KEY], item.shown_path),
    "integrity": lambda item: check_integrity(item.path, item.shown_path),
}
