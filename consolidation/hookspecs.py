"""Hook specifications for plugins of the ``consolidation`` library (pluggy).

Plugins implement these with ``@consolidation.hookspecs.hookimpl`` and are found through
the ``assetdb`` entry-point group (``[project.entry-points.assetdb]``), or registered on a
plugin manager directly. Each hook documents when it is called and what its return
value means; ``firstresult`` hooks stop at the first plugin that returns non-None.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable

import pluggy

from .fingerprint import quote_identifier as _quote

PROJECT = "assetdb"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

SHOWN, INCOMING = "shown", "incoming"


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


def conflict_resolver(manager: pluggy.PluginManager | None = None) -> Callable | None:
    """A resolver for the merge engine, or None when no plugin implements the hook."""
    manager = manager or plugin_manager()
    if not manager.hook.assetdb_resolve_conflict.get_hookimpls():
        return None

    def resolve(connection: sqlite3.Connection, merger, source_name: str) -> None:
        target = merger.target
        columns = [row[1] for row in connection.execute(f"PRAGMA main.table_info({_quote(target)})")]
        pairs = connection.execute(
            "SELECT p.identity, p.shown_shard, p.shown_rowid, (SELECT s.name FROM main.migration_row_links AS l "
            "JOIN main.migration_table_accounting AS a ON a.id = l.table_id "
            "JOIN main.migration_sources AS s ON s.id = a.source_id "
            "WHERE a.target_table = ? AND l.shard = p.shown_shard AND l.target_rowid = p.shown_rowid "
            "AND l.in_conflicts = 0 ORDER BY a.source_id LIMIT 1) FROM temp.assetdb_pairs AS p",
            (target,),
        ).fetchall()
        for identity, shown_shard, shown_rowid, shown_source in pairs:
            shown = dict(zip(columns, connection.execute(
                f"SELECT {', '.join(_quote(c) for c in columns)} FROM {merger.schema(shown_shard)}.{_quote(target)} "
                "WHERE rowid = ?",
                (shown_rowid,),
            ).fetchone()))
            incoming = dict(zip(merger.table.column_names, connection.execute(
                f"SELECT {', '.join(merger.columns)} FROM {merger.rows} AS s WHERE s._identity = ?", (identity,)
            ).fetchone()))
            choice = manager.hook.assetdb_resolve_conflict(
                table=target,
                key=[incoming[k] for k in merger.table.key],
                shown=shown,
                incoming=incoming,
                shown_source=shown_source,
                incoming_source=source_name,
            )
            if choice not in (None, SHOWN, INCOMING):
                raise ValueError(f"assetdb_resolve_conflict returned {choice!r}; expected 'shown', 'incoming' or None")
            if choice is not None:
                connection.execute(
                    "UPDATE temp.assetdb_pairs SET incoming_wins = ? WHERE identity = ?",
                    (int(choice == INCOMING), identity),
                )

    return resolve
