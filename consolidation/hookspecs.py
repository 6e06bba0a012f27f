"""Hook specifications for plugins of the ``consolidation`` library (pluggy).

Plugins implement these with ``@consolidation.hookspecs.hookimpl`` and are found through
the ``assetdb`` entry-point group (``[project.entry-points.assetdb]``), or registered on a
plugin manager directly. Each hook documents when it is called and what its return
value means; ``firstresult`` hooks stop at the first plugin that returns non-None.
"""

from __future__ import annotations

import sys

import pluggy

PROJECT = "assetdb"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)



@hookspec(firstresult=True)
def assetdb_resolve_conflict(
    table: str, key: list, shown: dict, incoming: dict, shown_source: str, incoming_source: str
) -> str | None:
    """Choose which version of a conflicting key the merged ``table`` shows.

    Called during ``assetdb migrate`` for each key of ``table`` that an incoming source
    row shares with the row shown so far, when their values differ. ``shown`` and
    ``incoming`` map column names to values. Return ``"incoming"`` to show the incoming
    row, ``"shown"`` to keep the current one, or None to leave it to ``--prefer``.
    Whatever is chosen, the other version is kept in the conflicts table: a resolver
    decides what is displayed, never what is lost.
    """


@hookspec(firstresult=True)
def assetdb_classify_asset(path: str) -> str | None:
    """Choose the asset kind of a workspace file during ``assetdb ingest``.

    ``path`` is relative to the workspace, with ``/`` separators. Return ``"script"``,
    ``"documentation"``, ``"template"`` or ``"pattern"``, or None to leave it to the
    ``[tool.assetdb.kinds]`` rules and the built-in defaults.
    """


def plugin_manager(load_entry_points: bool = True) -> pluggy.PluginManager:
    manager = pluggy.PluginManager(PROJECT)
    manager.add_hookspecs(sys.modules[__name__])
    if load_entry_points:
        manager.load_setuptools_entrypoints(PROJECT)
    return manager


