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

from .gate import Check
from .nodes import gate_checks


class GateScheduling(LoadScopeScheduling):
    """xdist's scope scheduling, with the gate's groups as scopes and the costliest first."""

    def __init__(self, config: pytest.Config, log: Producer | None = None) -> None:
        super().__init__(config, log)
        self.log = Producer("assetdbsched") if log is None else log.assetdbsched
        self._checks: dict[Path, dict[str, Check]] = {}
        self._ordered = False

    def _checks_of(self, database: Path) -> dict[str, Check]:
        """The checks of one database, read once (the controller collects nothing itself)."""
        if database not in self._checks:
            try:
                checks = gate_checks(self.config, database, None)
            except Exception:  # noqa: BLE001 - only the order depends on it; the workers report the error
                checks = []
            self._checks[database] = {check.name: check for check in checks}
        return self._checks[database]

    def _check(self, nodeid: str) -> Check | None:
        file_part, _, name = nodeid.partition("::")
        if not name or "::" in name:
            return None
        return self._checks_of(self.config.rootpath / file_part).get(name)

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
