"""Hooks other pytest plugins implement to extend ``pytest --assetdb``.

Added to pytest through ``pytest_addhooks``; implement them in a ``conftest.py`` or a
plugin like any pytest hook (no decorator needed)::

    from pytest_assetdb import Check, CheckResult

    def pytest_assetdb_collect_checks(path, config):
        if path.name == "analytics.db":
            return [Check("has_events", "migration", "custom", lambda context: ...)]
"""

from __future__ import annotations

import pytest


@pytest.hookspec
def pytest_assetdb_collect_checks(path, config):
    """Return gate checks to add for the database at ``path`` (a list of
    :class:`pytest_assetdb.Check`, or None).

    Each becomes an item ``path::NAME`` in its phase: it is gated by the earlier phases'
    checks of the same database and gates the later ones, like the built-in checks.
    Called once per database per process (each xdist worker collects for itself), so it
    must return the same checks every time. Not called for a file the consolidated set left
    out (an LFS pointer skipped with ``--skip-unusable``): it is shown as skipped, nothing more.
    """


@pytest.hookspec(firstresult=True)
def pytest_assetdb_size_limit(path, config):
    """Return the size cap in bytes for the database at ``path``, or None for the
    configured one (``--assetdb-limit``, ini ``assetdb_size_limit``, ``[tool.assetdb]``)."""


@pytest.hookspec
def pytest_assetdb_report(config, databases):
    """Called once after the gate, on the controller (never on an xdist worker), with one
    :class:`pytest_assetdb.DatabaseSummary` per database checked: its figures and how
    many of its checks passed. Use it to publish the gate's results elsewhere."""
