"""The ``--assetdb`` gate: every database under pytest's paths becomes check items.

``pytest --assetdb databases/`` collects each ``*.db``/``*.sqlite``/``*.sqlite3`` file as a
:class:`DatabaseFile` whose items (``databases/foo.db::size``, ``…::integrity``,
``…::lossless[src.db:table]`` …) run the checks of :mod:`pytest_assetdb.gate`, phase by
phase. Without ``--assetdb`` the plugin collects nothing, so installing it never changes
a test run. Models followed: pytest-mypy (a flag over pytest's own paths, ``from_parent``
collectors) and syrupy (a plugin object for reporting, xdist-aware).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from consolidation.leftovers import sweep_system_temporaries
from consolidation.listing import LIST_FILENAME
from consolidation.sqlite.classify import is_database_path
from consolidation.sqlite.readonly import set_reader_wait
from consolidation.store import read_consolidated, shadow_with_union_views

from . import hookspecs
from .checks import is_assetdb_primary
from .gate import PHASES, ResultCache
from .membership import MembershipIndex
from .nodes import (
    MEMBERSHIP_KEY,
    RESULTS_KEY,
    DatabaseFile,
    DatabaseListFile,
    gate_folders,
    gate_paths,
    lists_in_use,
)
from .report import GateReporter
from .settings import SETTINGS_KEY, add_options, resolve_settings, settings

# -- options and configuration ---------------------------------------------------------------


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


MARKERS = (
    "assetdb: a database check collected by --assetdb",
    f"assetdb_phase(name): the phase a check gates ({', '.join(PHASES)}); select with "
    "-m \"assetdb_phase(name='migration')\"",
    "assetdb_check(name): the kind of check (size, integrity, schema, lossless, reproducible, rebuildable, "
    "listed, or a plugin's); select with -m \"assetdb_check(name='size')\"",
)


#: The reader wait this process had before the gate set its own.
READER_WAIT_KEY = pytest.StashKey[float]()


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)
    if not config.getoption("assetdb"):
        return
    config.stash[SETTINGS_KEY] = resolve_settings(config)
    # every check waits out a committing writer; the process's previous wait comes back at the end
    config.stash[READER_WAIT_KEY] = set_reader_wait(config.stash[SETTINGS_KEY].lock_timeout)
    config.stash[RESULTS_KEY] = ResultCache()
    config.stash[MEMBERSHIP_KEY] = MembershipIndex(tuple(gate_folders(config)))
    if not hasattr(config, "workerinput"):  # the controller (or a run without xdist) reports
        config.pluginmanager.register(GateReporter(config), "assetdb-reporter")


def pytest_unconfigure(config: pytest.Config) -> None:
    if READER_WAIT_KEY in config.stash:
        set_reader_wait(config.stash[READER_WAIT_KEY])


#: The plugins that write pytest's cache at the end of a session.
CACHE_WRITERS = ("lfplugin", "nfplugin", "stepwiseplugin")


def pytest_sessionstart(session: pytest.Session) -> None:
    """What killed runs left in the temporary folder goes (a killed gate's rebuilt copy of a
    source, say), as the command line sweeps it. And the gate must add no file to the
    folders it checks: if pytest's cache would land in one (the databases folder is the
    rootdir), the plugins that write it stand down."""
    config = session.config
    if not config.getoption("assetdb"):
        return
    sweep_system_temporaries()
    if config.pluginmanager.get_plugin("cacheprovider") is None:
        return
    cache = (config.rootpath / config.getini("cache_dir")).resolve()
    for folder in map(Path.resolve, gate_folders(config)):
        if cache == folder or folder in cache.parents:
            for name in CACHE_WRITERS:
                writer = config.pluginmanager.get_plugin(name)
                if writer is not None:
                    config.pluginmanager.unregister(writer)
            return


def pytest_report_header(config: pytest.Config) -> str | None:
    if not config.getoption("assetdb"):
        return None
    return settings(config).header()


# -- collection ---------------------------------------------------------------------------------


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if not parent.config.getoption("assetdb"):
        return None
    if settings(parent.config).exclusions.matching(file_path):
        return None  # left out on purpose (--assetdb-exclude, ini, [tool.assetdb] exclude)
    if is_database_path(file_path):
        return DatabaseFile.from_parent(parent, path=file_path)
    if file_path.name == LIST_FILENAME and _named_itself(parent.config, file_path):
        return DatabaseListFile.from_parent(parent, path=file_path)  # given by its path, or its item's id
    return None  # else a database list gets its item when a database is checked against it (below)


def _named_itself(config: pytest.Config, path: Path) -> bool:
    return path.absolute() in gate_paths(config)


@pytest.hookimpl(tryfirst=True)  # before -k, -m and --lf select among the items
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Each database list the collected databases are checked against gets its ``complete``
    item, wherever it lives (``documentation/``, outside the gate's folders, say): it is what
    fails when a database it lists as active (the consolidated set itself) is gone. Another
    file of that name (an old hand-written copy) is no list in use, and gets none."""
    if not config.getoption("assetdb") or all("::" in argument for argument in config.args):
        return  # only items picked by their ids: no other is added
    collected = {item.path for item in items if isinstance(item.parent, DatabaseListFile)}
    for database_list in lists_in_use(config):  # named from the rootdir, "../docs/…" when outside it
        if database_list in collected:
            continue
        named = Path(os.path.relpath(database_list, config.rootpath)).as_posix()
        items.extend(DatabaseListFile.from_parent(session, path=database_list, nodeid=named).collect())


# -- spreading over xdist workers ----------------------------------------------------------------


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """With ``--assetdb``, xdist's load distribution keeps a source's checks together and
    starts the costliest first (:mod:`pytest_assetdb.distribution`); other modes as asked."""
    if not config.getoption("assetdb") or config.getvalue("dist") != "load":
        return None
    from .distribution import (
        GateScheduling,  # xdist's own modules: only when xdist runs
    )

    return GateScheduling(config, log)


# -- fixtures for people writing validation tests --------------------------------------------


@pytest.fixture(scope="session")
def assetdb_limit(pytestconfig: pytest.Config) -> int:
    """The size cap in force (``--assetdb-limit``, ini, ``[tool.assetdb]``, else 99.9 MB), in bytes."""
    return settings(pytestconfig).limit


def _collectable(config: pytest.Config, path: Path, root: Path) -> bool:
    """Would collection reach ``path``? Every folder on the way, and the file, is put to
    pytest's own ``pytest_ignore_collect`` (``--ignore``, ``--ignore-glob``,
    ``norecursedirs`` — hidden folders among them —, ``collect_ignore``)."""
    steps = [path, *[parent for parent in path.parents if parent != root and root in parent.parents]]
    return not any(config.hook.pytest_ignore_collect(collection_path=step, config=config) for step in steps)


@pytest.fixture(scope="session")
def assetdb_databases(pytestconfig: pytest.Config) -> list[Path]:
    """Every database file under the paths pytest was given, sorted: the files the gate
    collects, whatever ``--ignore``, ``norecursedirs``, hidden folders or
    ``--assetdb-exclude`` leave out."""
    exclusions = settings(pytestconfig).exclusions
    found = set()
    for path in gate_paths(pytestconfig):
        if path.is_file() and is_database_path(path):
            found.add(path.resolve())
        elif path.is_dir():
            found.update(p.resolve() for p in path.rglob("*")
                         if p.is_file() and is_database_path(p) and _collectable(pytestconfig, p, path))
    return sorted(path for path in found if not exclusions.matching(path))


@pytest.fixture(scope="session")
def assetdb_workspace(pytestconfig: pytest.Config) -> Path:
    """The workspace (``--assetdb-workspace`` or ini ``assetdb_workspace``); skips without one."""
    workspace = settings(pytestconfig).workspace
    if workspace is None:
        pytest.skip("no assetdb workspace configured (--assetdb-workspace or ini assetdb_workspace)")
    return workspace


@pytest.fixture
def assetdb_consolidated(assetdb_databases: list[Path]):
    """The consolidated database under test, read-only: a ``sqlite_utils.Database`` when
    sqlite-utils is installed (``pip install pytest-assetdb[sqlite-utils]``), else the
    standard library's ``sqlite3.Connection``.

    Its merged tables read across every shard: each is shadowed by a temporary view
    that unions the shards. Skips when no consolidated database is under test.
    """
    primary = next((path for path in assetdb_databases if is_assetdb_primary(path)), None)
    if primary is None:
        pytest.skip("no consolidated assetdb database under the given paths")
    with read_consolidated(primary) as (connection, shards):
        connection.execute("PRAGMA query_only = 0")  # temporary views only: the files stay read-only
        shadow_with_union_views(connection, shards)
        try:
            import sqlite_utils  # an optional extra, and slow to import: only when a test asks
        except ImportError:
            yield connection
        else:
            yield sqlite_utils.Database(connection)
