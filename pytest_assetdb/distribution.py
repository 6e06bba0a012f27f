"""Spreading the gate over xdist workers.

xdist's default (``--dist load``) hands items out in collection order, one by one. For the
gate that is the slowest order there is: each item proves the earlier-phase checks it
depends on itself (``rebuildable[s]`` waits for every ``lossless[s:…]``), so a source's
checks spread over two workers are proved twice; and the costliest chain (the largest
source's) starts last, when the other worker has nothing left to do.

So, with ``--assetdb``, the load distribution keeps the checks about one source of one
database on one worker, and starts the costliest such group first (longest processing
time first). Items that are not the gate's are handed out one by one, as xdist would.
Only the order changes: every item still proves what it depends on, so the outcome is
the same however the items are spread.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import pytest
from xdist.remote import Producer
from xdist.scheduler import LoadScopeScheduling

from consolidation.sqlite.classify import is_database_path
from consolidation.sqlite.readonly import set_reader_wait

from .gate import Check
from .nodes import gate_checks


class GateScheduling(LoadScopeScheduling):
    """xdist's scope scheduling, with the gate's groups as scopes and the costliest first."""

    def __init__(self, config: pytest.Config, log: Producer | None = None) -> None:
        super().__init__(config, log)
        self.log = Producer("assetdbsched") if log is None else log.assetdbsched
        self._checks: dict[Path, dict[str, Check]] = {}
        self._databases: dict[str, Path | None] = {}
        self._ordered = False

    def _checks_of(self, database: Path) -> dict[str, Check]:
        """The checks of one database, read once (the controller collects nothing itself).
        Only the order depends on them, so the controller never waits for a writer's lock:
        a database it cannot read now is simply handed out check by check."""
        if database not in self._checks:
            waited = set_reader_wait(0)
            try:
                checks = gate_checks(self.config, database, None)
            except (Exception, pytest.skip.Exception, pytest.fail.Exception):  # noqa: BLE001 - the workers report it
                checks = []
            finally:
                set_reader_wait(waited)
            self._checks[database] = {check.name: check for check in checks}
        return self._checks[database]

    def _database(self, file_part: str) -> Path | None:
        """The database file a node id names: node ids are relative to the rootdir, or, for
        a file outside it, to where pytest was started or to the path it was given."""
        if file_part not in self._databases:
            config = self.config
            bases = [config.rootpath, config.invocation_params.dir]
            for argument in config.args:
                given = config.invocation_params.dir / argument.split("::")[0]
                bases += [given, given.parent]
            found = (base / file_part for base in bases)
            self._databases[file_part] = next(
                (path for path in found if is_database_path(path) and path.is_file()), None)
        return self._databases[file_part]

    def _check(self, nodeid: str) -> Check | None:
        file_part, _, name = nodeid.partition("::")  # a source's name may hold "::" itself
        database = self._database(file_part) if name else None
        return None if database is None else self._checks_of(database).get(name)

    def _split_scope(self, nodeid: str) -> str:
        check = self._check(nodeid)
        if check is None or check.scope is None:
            return nodeid  # on its own: whole-database checks and tests that are not the gate's
        return f"{nodeid.partition('::')[0]}::{check.scope}"

    def _cost(self, work_unit: dict[str, bool]) -> int:
        return sum(check.cost for check in map(self._check, work_unit) if check is not None)

    def _assign_work_unit(self, node) -> None:
        if not self._ordered:  # the queue is complete once the first unit goes out
            ranked = sorted(self.workqueue.items(), key=lambda unit: -self._cost(unit[1]))
            self.workqueue = OrderedDict(ranked)
            self._ordered = True
        super()._assign_work_unit(node)
