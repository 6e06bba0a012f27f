"""The ``--assetdb`` gate: every database under pytest's paths becomes check items.

``pytest --assetdb databases/`` collects each ``*.db``/``*.sqlite``/``*.sqlite3`` file as a
:class:`DatabaseFile` whose items (``databases/foo.db::size``, ``…::integrity``,
``…::lossless[src.db:table]`` …) run the checks of :mod:`pytest_assetdb.gate`, phase by
phase. Without ``--assetdb`` the plugin collects nothing, so installing it never changes
a test run. Models followed: pytest-mypy (a flag over pytest's own paths, ``from_parent``
collectors) and syrupy (a plugin object for reporting, xdist-aware).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from consolidation.config import load_settings
from consolidation.errors import AssetdbError, BadInput
from consolidation.inventory import is_database_path
from consolidation.listing import LIST_FILENAME
from consolidation.size import format_size, parse_size
from consolidation.sqlite.introspect import quote_identifier as q
from consolidation.store import read_consolidated

from . import hookspecs
from .checks import check_list_complete, is_assetdb_primary
from .gate import PHASES, Check, CheckContext, ResultCache, builtin_checks

SETTINGS_KEY = pytest.StashKey["GateSettings"]()
RESULTS_KEY = pytest.StashKey[ResultCache]()


@dataclass(frozen=True)
class GateSettings:
    limit: int
    workspace: Path | None
    phase: str
    database_list: Path | None


# -- options and configuration ---------------------------------------------------------------


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("assetdb", "SQLite database gate (pytest-assetdb)")
    group.addoption(
        "--assetdb",
        action="store_true",
        default=False,
        help="collect the SQLite databases under the given paths as gate items",
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
    group.addoption(
        "--assetdb-phase",
        metavar="PHASE",
        choices=PHASES,
        default=None,
        help=f"run the checks up to this phase ({', '.join(PHASES)}); overrides ini assetdb_phase",
    )
    group.addoption(
        "--assetdb-list",
        metavar="FILE",
        default=None,
        help=f"the database list the listed items check (default: {LIST_FILENAME} beside each database, if any)",
    )
    parser.addini("assetdb_size_limit", "size cap per database for --assetdb (99.9MB, 95MiB, 1.5GB or bytes)", default="")
    parser.addini("assetdb_workspace", "workspace for reproducible[KIND] items (relative to the rootdir)", default="")
    parser.addini("assetdb_phase", f"last phase --assetdb checks ({', '.join(PHASES)})", default="")
    parser.addini("assetdb_list", "database list for listed items (relative to the rootdir)", default="")


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


def _path_setting(config: pytest.Config, option: str, ini: str, project: Path | None) -> Path | None:
    """The command line wins over the ini file, which wins over ``[tool.assetdb]``."""
    value = config.getoption(option)
    if value:
        return Path(value).resolve()
    if config.getini(ini):
        return (config.rootpath / config.getini(ini)).resolve()
    return project.resolve() if project else None


def resolve_settings(config: pytest.Config) -> GateSettings:
    try:
        project = load_settings(config.rootpath)
    except BadInput as error:
        raise pytest.UsageError(str(error)) from None
    workspace = _path_setting(config, "assetdb_workspace", "assetdb_workspace", project.workspace)
    if workspace is not None and not workspace.is_dir():
        raise pytest.UsageError(f"assetdb workspace {workspace} is not a folder")
    phase = config.getoption("assetdb_phase") or config.getini("assetdb_phase") or project.phase or PHASES[-1]
    if phase not in PHASES:
        raise pytest.UsageError(f"assetdb_phase: unknown phase {phase!r} (phases: {', '.join(PHASES)})")
    database_list = _path_setting(config, "assetdb_list", "assetdb_list", project.database_list)
    return GateSettings(resolve_limit(config), workspace, phase, database_list)


def settings(config: pytest.Config) -> GateSettings:
    if SETTINGS_KEY not in config.stash:
        config.stash[SETTINGS_KEY] = resolve_settings(config)
    return config.stash[SETTINGS_KEY]


MARKERS = (
    "assetdb: a database check collected by --assetdb",
    f"assetdb_phase(name): the phase a check gates ({', '.join(PHASES)}); select with "
    "-m \"assetdb_phase(name='migration')\"",
    "assetdb_check(name): the kind of check (size, integrity, schema, lossless, reproducible, rebuildable, "
    "listed, or a plugin's); select with -m \"assetdb_check(name='size')\"",
)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)
    if not config.getoption("assetdb"):
        return
    config.stash[SETTINGS_KEY] = resolve_settings(config)
    config.stash[RESULTS_KEY] = ResultCache()
    if not hasattr(config, "workerinput"):  # the controller (or a run without xdist) reports
        config.pluginmanager.register(GateReporter(config), "assetdb-reporter")


#: The plugins that write pytest's cache at the end of a session.
CACHE_WRITERS = ("lfplugin", "nfplugin", "stepwiseplugin")


def pytest_sessionstart(session: pytest.Session) -> None:
    """The gate must add no file to the folders it checks: if pytest's cache would land
    in one (the databases folder is the rootdir), the plugins that write it stand down."""
    config = session.config
    if not config.getoption("assetdb") or config.pluginmanager.get_plugin("cacheprovider") is None:
        return
    cache = (config.rootpath / config.getini("cache_dir")).resolve()
    for argument in config.args:
        folder = Path(argument.split("::")[0]).resolve()
        folder = folder if folder.is_dir() else folder.parent
        if cache == folder or folder in cache.parents:
            for name in CACHE_WRITERS:
                writer = config.pluginmanager.get_plugin(name)
                if writer is not None:
                    config.pluginmanager.unregister(writer)
            return


# -- collection ---------------------------------------------------------------------------------


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if not parent.config.getoption("assetdb"):
        return None
    if is_database_path(file_path):
        return DatabaseFile.from_parent(parent, path=file_path)
    if file_path.name == LIST_FILENAME:
        return DatabaseListFile.from_parent(parent, path=file_path)
    return None


class CheckFailure(Exception):
    """An expected gate failure: reported by its message alone, without a traceback."""


class DatabaseFile(pytest.File):
    """One database: one item per check, by phase, up to ``--assetdb-phase``.

    The checks (and, for a consolidated database, its ledger) are read here, once per
    process, never once per item.
    """

    def database_list(self) -> Path | None:
        configured = settings(self.config).database_list
        if configured is None and (self.path.parent / LIST_FILENAME).is_file():
            return self.path.parent / LIST_FILENAME
        return configured

    def gate_checks(self, database_list: Path | None) -> list[Check]:
        checks = builtin_checks(self.path, database_list)
        for extra in self.config.hook.pytest_assetdb_collect_checks(path=self.path, config=self.config):
            checks.extend(extra or [])
        return checks

    def collect(self):
        gate = settings(self.config)
        database_list = self.database_list()
        last = PHASES.index(gate.phase)
        self.checks = sorted((c for c in self.gate_checks(database_list) if c.order <= last), key=lambda c: c.order)
        limit = self.config.hook.pytest_assetdb_size_limit(path=self.path, config=self.config) or gate.limit
        self.context = CheckContext(self.path, self.shown_path, limit, gate.workspace, database_list)
        for check in self.checks:
            item = CheckItem.from_parent(self, name=check.name, check=check)
            item.add_marker(pytest.mark.assetdb)
            item.add_marker(pytest.mark.assetdb_phase(name=check.phase))
            item.add_marker(pytest.mark.assetdb_check(name=check.kind))
            yield item

    @property
    def shown_path(self) -> str:
        """The database path as the user would type it from where pytest was started."""
        try:
            return str(self.path.relative_to(self.config.invocation_params.dir))
        except ValueError:
            return str(self.path)


class DatabaseListFile(DatabaseFile):
    """The folder's database list: its ``complete`` item fails when a database it lists as
    active is missing on disk (each database's own ``listed`` item covers the other way)."""

    def database_list(self) -> Path:
        return self.path

    def gate_checks(self, database_list: Path | None) -> list[Check]:
        return [Check("complete", "finalization", "listed", lambda c: check_list_complete(c.path, c.shown_as))]


class CheckItem(pytest.Item):
    """Runs one check after the earlier phases' checks of its database, and records its
    figures as JUnit properties."""

    def __init__(self, *, check: Check, **kwargs):
        super().__init__(**kwargs)
        self.check = check

    def runtest(self) -> None:
        results = self.config.stash[RESULTS_KEY]
        database: DatabaseFile = self.parent
        self.user_properties.append(("assetdb_check", self.check.kind))  # marks the report as the gate's
        for earlier in database.checks:
            if not self.check.gated_by(earlier):
                continue
            result = results.result(earlier, database.context)
            if not result.ok:
                first_line = result.message.splitlines()[0]
                raise CheckFailure(
                    f"not checked: {earlier.name} ({earlier.phase}) failed first — {first_line}"
                )
        result = results.result(self.check, database.context)
        self.user_properties.extend(result.figures.items())
        if not result.ok:
            raise CheckFailure(result.message)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, (CheckFailure, AssetdbError)):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        # The failure headline: "size: databases/foo.db" (the check first, so that pytest's
        # verbose output keeps showing the plain node id).
        return self.path, None, f"{self.name}: {self.parent.nodeid}"


# -- reporting -----------------------------------------------------------------------------------


@dataclass
class DatabaseSummary:
    """What the gate found for one database (passed to ``pytest_assetdb_report``)."""

    database: str
    passed: int = 0
    failed: int = 0
    figures: dict[str, object] = field(default_factory=dict)

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
        if report.passed:
            summary.passed += 1
        else:
            summary.failed += 1
        if properties.get("assetdb_check") == "size":
            summary.figures.update({k: v for k, v in properties.items() if k != "assetdb_check"})

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if not self.databases:
            return
        terminalreporter.section("assetdb gate")
        rows = [("database", "size", "% of cap", "checks passed")]
        for summary in sorted(self.databases.values(), key=lambda s: s.database):
            size = summary.figures.get("bytes")
            percent = summary.figures.get("percent_of_cap")
            rows.append(
                (
                    summary.database,
                    format_size(int(size)) if size is not None else "-",
                    f"{float(percent):.1f}%" if percent is not None else "-",
                    f"{summary.passed}/{summary.checks}",
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        for row in rows:
            terminalreporter.write_line(
                "  ".join(cell.ljust(width) if i == 0 else cell.rjust(width) for i, (cell, width) in enumerate(zip(row, widths)))
            )

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.config.hook.pytest_assetdb_report(
            config=self.config, databases=sorted(self.databases.values(), key=lambda s: s.database)
        )


# -- fixtures for people writing validation tests --------------------------------------------


@pytest.fixture(scope="session")
def assetdb_limit(pytestconfig: pytest.Config) -> int:
    """The size cap in force (``--assetdb-limit``, ini, ``[tool.assetdb]``, else 99.9 MB), in bytes."""
    return settings(pytestconfig).limit


@pytest.fixture(scope="session")
def assetdb_databases(pytestconfig: pytest.Config) -> list[Path]:
    """Every database file under the paths pytest was given, sorted."""
    found = set()
    for argument in pytestconfig.args:
        path = Path(argument.split("::")[0])
        if path.is_file() and is_database_path(path):
            found.add(path.resolve())
        elif path.is_dir():
            found.update(p.resolve() for p in path.rglob("*") if p.is_file() and is_database_path(p))
    return sorted(found)


@pytest.fixture(scope="session")
def assetdb_workspace(pytestconfig: pytest.Config) -> Path:
    """The workspace (``--assetdb-workspace`` or ini ``assetdb_workspace``); skips without one."""
    workspace = settings(pytestconfig).workspace
    if workspace is None:
        pytest.skip("no assetdb workspace configured (--assetdb-workspace or ini assetdb_workspace)")
    return workspace


@pytest.fixture
def assetdb_consolidated(assetdb_databases: list[Path]):
    """The consolidated database under test as a read-only ``sqlite_utils.Database``.

    Its merged tables read across every shard: each is shadowed by a temporary view
    that unions the shards. Skips when no consolidated database is under test.
    """
    import sqlite_utils  # only when a test asks for it: sqlite-utils is slow to import

    primary = next((path for path in assetdb_databases if is_assetdb_primary(path)), None)
    if primary is None:
        pytest.skip("no consolidated assetdb database under the given paths")
    with read_consolidated(primary) as (connection, shards):
        connection.execute("PRAGMA query_only = 0")  # temporary views only: the files stay read-only
        _shadow_with_union_views(connection, shards)
        yield sqlite_utils.Database(connection)


def _shadow_with_union_views(connection: sqlite3.Connection, shards: dict[int, str]) -> None:
    if len(shards) < 2:
        return
    tables = [row[0] for row in connection.execute("SELECT name FROM main.sqlite_schema WHERE type = 'table'")]
    for table in tables:
        columns = [row[1] for row in connection.execute(f"PRAGMA main.table_info({q(table)})")]
        selected = ", ".join(q(c) for c in columns)
        parts = [f"SELECT {selected} FROM main.{q(table)}"]
        for schema in list(shards.values())[1:]:
            if connection.execute(f"SELECT 1 FROM {schema}.sqlite_schema WHERE name = ?", (table,)).fetchone():
                parts.append(f"SELECT {selected} FROM {schema}.{q(table)}")
        if len(parts) > 1:
            connection.execute(f"CREATE TEMP VIEW {q(table)} AS {' UNION ALL '.join(parts)}")
