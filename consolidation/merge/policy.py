"""Which version of a conflicting key the merged table shows.

The policy (first, newest, or a named source) decides first; plugins implementing the
``assetdb_resolve_conflict`` hook may then overrule it per key. Either way the other
version stays in the conflicts table: a policy decides what is displayed, never what is
lost.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

import pluggy

from ..errors import BadInput
from ..hookspecs import plugin_manager
from ..sqlite.introspect import quote_identifier as _quote
from ..store.provenance import owner_of_merged_row
from .rows import RowMerger


@dataclass(frozen=True)
class ConflictPolicy:
    """Which version of a conflicting key the merged table shows.

    ``first``: the source migrated first keeps it (default). ``newest``: the source
    file modified last wins. ``source``: the named source wins. Either way the other
    version stays in the conflicts table.
    """

    kind: str = "first"
    source_name: str | None = None

    @classmethod
    def parse(cls, text: str | None) -> ConflictPolicy:
        if text is None or text == "first":  # an empty --prefer is a typo, not the default
            return cls()
        if text == "newest":
            return cls("newest")
        for prefix in ("source:", "source "):  # --prefer source:NAME, or --prefer "source NAME"
            if text.startswith(prefix) and text[len(prefix):].strip():
                return cls("source", text[len(prefix):].strip())
        raise BadInput(f"invalid conflict policy {text!r}: use first, newest or source:NAME")

    def __str__(self) -> str:
        return f"source:{self.source_name}" if self.kind == "source" else self.kind


def policy_decider(policy: ConflictPolicy, source_id: int, source_name: str, resolver=None):
    """A function that marks, in ``temp.assetdb_pairs``, the conflicts the incoming row wins.

    ``resolver`` (the ``assetdb_resolve_conflict`` hook) is asked after the policy, per
    conflict, and overrides it where it answers.
    """

    def decide(merger: RowMerger) -> None:
        connection, target = merger.connection, merger.target
        if policy.kind == "source" and policy.source_name == source_name:
            connection.execute("UPDATE temp.assetdb_pairs SET incoming_wins = 1")
        elif policy.kind == "newest":
            connection.execute(
                "UPDATE temp.assetdb_pairs AS p SET incoming_wins = 1 WHERE "
                "(SELECT mtime_ns FROM main.migration_sources WHERE id = :incoming) > "
                f"({_newest_holding('p.shown_shard', 'p.shown_rowid')})",
                {"incoming": source_id, "target": target},
            )
        if resolver is not None:
            resolver(connection, merger, source_name)

    return decide


def _newest_holding(shard: str, rowid: str) -> str:
    """Scalar SQL: the latest mtime of the sources holding merged row ``rowid`` of table
    ``:target`` in shard ``shard``: the one that stored it and every one folded into it. The
    version shown is as new as the newest file that holds it, whichever was migrated first."""
    return (
        f"SELECT max(x.mtime_ns) FROM main.migration_sources AS x WHERE x.id = ({owner_of_merged_row(shard, rowid)}) "
        "OR x.id IN (SELECT xa.source_id FROM main.migration_row_links AS xl "
        "JOIN main.migration_table_accounting AS xa ON xa.id = xl.table_id "
        f"WHERE xl.shard = {shard} AND xl.target_rowid = {rowid} AND xl.in_conflicts = 0 AND xl.span = 1 "
        "AND xa.target_table = :target)"
    )


SHOWN, INCOMING = "shown", "incoming"


def conflict_resolver(manager: pluggy.PluginManager | None = None) -> Callable | None:
    """A resolver for the merge engine, or None when no plugin implements the hook."""
    manager = manager or plugin_manager()
    if not manager.hook.assetdb_resolve_conflict.get_hookimpls():
        return None

    def resolve(connection: sqlite3.Connection, merger, source_name: str) -> None:
        target = merger.target
        columns = [row[1] for row in connection.execute(f"PRAGMA main.table_info({_quote(target)})")]
        pairs = connection.execute(
            "SELECT p.identity, p.shown_shard, p.shown_rowid, (SELECT s.name FROM main.migration_sources AS s "
            f"WHERE s.id = {owner_of_merged_row('p.shown_shard', 'p.shown_rowid')}) FROM temp.assetdb_pairs AS p",
            {"target": target},
        ).fetchall()
        for identity, shown_shard, shown_rowid, shown_source in pairs:
            shown = dict(zip(columns, connection.execute(
                f"SELECT {', '.join(_quote(c) for c in columns)} FROM {merger.schema(shown_shard)}.{_quote(target)} "
                "WHERE rowid = ?",
                (shown_rowid,),
            ).fetchone()))
            incoming = dict(zip(merger.table.column_names, connection.execute(
                f"SELECT {', '.join(merger.columns)} FROM {merger.rows} AS s WHERE s.{merger.identity} = ?", (identity,)
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
