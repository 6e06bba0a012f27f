"""The gate's collection tree: a database file, its check items, and the database list.

Each item works out the earlier-phase checks it depends on itself, through a per-process
cache, so gating is the same in one process and across xdist workers.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import _pytest
import pluggy
import pytest

from consolidation.errors import AssetdbError
from consolidation.listing import LIST_FILENAME

from .gate import PHASES, Check, CheckContext, ResultCache, builtin_checks
from .list_checks import check_list_complete
from .membership import MembershipIndex
from .settings import resolve_warn, settings

RESULTS_KEY = pytest.StashKey[ResultCache]()
MEMBERSHIP_KEY = pytest.StashKey[MembershipIndex]()
#: The database lists the collected databases are checked against: each gets its
#: ``complete`` item.
LISTS_IN_USE_KEY = pytest.StashKey[set[Path]]()


class AssetdbNearCapWarning(pytest.PytestWarning):
    """A database the gate passed that is near the cap (``--assetdb-warn``)."""


def gate_checks(config: pytest.Config, path: Path, database_list: Path | None) -> list[Check]:
    """Every check of the database at ``path``: the built-in ones and the plugins' (none for a
    file the consolidated set left out: it is shown as skipped, with its reason, and nothing
    about it is checked)."""
    membership = config.stash[MEMBERSHIP_KEY].of(path)
    checks = builtin_checks(path, database_list, membership, settings(config).workspace)
    if membership.skipped is not None:
        return checks
    for extra in config.hook.pytest_assetdb_collect_checks(path=path, config=config):
        checks.extend(extra or [])
    return checks


#: Frames a plugin's author has no use for: pytest's, pluggy's and the gate's own, which run
#: every check and re-raise what it raised.
_MACHINERY = tuple(Path(module.__file__).parent for module in (_pytest, pluggy)) + (Path(__file__).parent,)


def _the_check_s_own_frames(traceback):
    """The frames of a plugin check that raised, its own code only (``--fulltrace`` shows all)."""
    own = traceback.filter(lambda entry: not any(folder in Path(entry.path).parents for folder in _MACHINERY))
    return own or traceback


def gate_paths(config: pytest.Config) -> list[Path]:
    """The paths the gate was pointed at, absolute (an item's id given: its file's)."""
    return [Path(argument.split("::")[0]).absolute() for argument in config.args]


def gate_folders(config: pytest.Config) -> list[Path]:
    """The folders the gate was pointed at (a file's folder, for a file)."""
    return [path if path.is_dir() else path.parent for path in gate_paths(config)]


def lists_in_use(config: pytest.Config) -> list[Path]:
    """The database lists the collected databases are checked against, that exist (one
    deleted fails the ``listed`` items that name it instead)."""
    return sorted(path for path in config.stash.get(LISTS_IN_USE_KEY, set()) if path.is_file())


class CheckFailure(Exception):
    """An expected gate failure: reported by its message alone, without a traceback."""


class DatabaseFile(pytest.File):
    """One database: one item per check, by phase, up to ``--assetdb-phase``.

    The checks (and, for a consolidated database, its ledger) are read here, once per
    process, never once per item.
    """

    def database_list(self) -> Path | None:
        """The list this database's ``listed`` item checks: the one configured, else the one
        its consolidated set keeps (the set beside or above it, else the one set the gate's
        folders hold) — a list deleted or moved since is still the one it is checked against
        (its items say where the workspace's list is now) —, else the workspace's one list,
        else the one beside the database."""
        gate, membership = settings(self.config), self.config.stash[MEMBERSHIP_KEY]
        chosen = (gate.database_list or membership.recorded_list(self.path)
                  or membership.recorded_in(gate_folders(self.config)) or gate.found_list)
        if chosen is None and (self.path.parent / LIST_FILENAME).is_file():
            chosen = self.path.parent / LIST_FILENAME
        if chosen is not None:
            self.config.stash.setdefault(LISTS_IN_USE_KEY, set()).add(chosen.absolute())
        return chosen

    def gate_checks(self, database_list: Path | None) -> list[Check]:
        return gate_checks(self.config, self.path, database_list)

    def collect(self):
        gate = settings(self.config)
        database_list = self.database_list()
        last = PHASES.index(gate.phase)
        self.checks = sorted((c for c in self.gate_checks(database_list) if c.order <= last), key=lambda c: c.order)
        limit = self.config.hook.pytest_assetdb_size_limit(path=self.path, config=self.config) or gate.limit
        warn_at = gate.warn_at if limit == gate.limit else resolve_warn(self.config, limit)  # "90%" of its own cap
        self.context = CheckContext(self.path, self.shown_path, limit, gate.workspace, database_list, warn_at)
        for check in self.checks:
            # the id given whole, so pytest reads "lossless[a.db:t]" as a name and its
            # parameters, as it reads the ids its cache (--lf, --ff) keeps
            item = CheckItem.from_parent(self, name=check.name, nodeid=f"{self.nodeid}::{check.name}", check=check)
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
        if result.raised is not None:
            raise result.raised
        self.user_properties.extend(result.figures.items())
        if result.warning:
            self.user_properties.append(("assetdb_warning", result.warning))
            warnings.warn(AssetdbNearCapWarning(result.warning), stacklevel=1)
        if result.skip:
            pytest.skip(result.message)
        if not result.ok:
            raise CheckFailure(result.message)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, (CheckFailure, AssetdbError)):
            return str(excinfo.value)
        if isinstance(excinfo.value, AssetdbNearCapWarning):  # near the cap, made an error by -W error::…
            return f"AssetdbNearCapWarning: {excinfo.value}"
        if not self.config.getoption("fulltrace", False):
            excinfo.traceback = _the_check_s_own_frames(excinfo.traceback)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        # The failure headline: "size: databases/foo.db" (the check first, so that pytest's
        # verbose output keeps showing the plain node id).
        return self.path, None, f"{self.name}: {self.parent.nodeid}"
