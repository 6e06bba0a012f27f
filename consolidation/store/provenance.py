"""How the ledger's provenance links are read: the SQL every reader and writer shares.

A link ties source rows of one source table to the rows holding their values. Most links
cover one row; a link with ``span`` n covers n source rows of consecutive identities,
stored at n consecutive rowids of one merged table (or of its conflicts table: the losing
versions a chunk keeps are numbered in a row), so a table copied as it is costs one link
per run of rows rather than one per row. Links of one source table never overlap in source
identity, and a span's rows belong to the source that wrote them (a span is only ever
written for rows a source stores or keeps, and is broken up before any of its rows moves).

A span covers at most MAX_SPAN rows (a longer run is several links). The spans of every
merged table of a shard share one index by where they start, so the span that can hold a
merged row starts at most MAX_SPAN below it: a lookup reads that window of the index and
nothing further down, however many spans other tables keep below it.

So two questions are answered by index seeks, never by scans:

* which link covers source row ``i`` of table ``T``: the one of ``T`` starting nearest at
  or below ``i`` (the primary key), if it reaches ``i``;
* which source shows merged row ``r`` of table ``X`` in shard ``S``: the source of the
  span holding ``r`` (the span index, which holds the spans into merged tables only),
  else the first of the one-row links to ``r``.
"""

from __future__ import annotations

#: The most rows one link covers. Small enough that the window of the span index a lookup
#: reads holds few starts of other tables' spans (at most MAX_SPAN / 2 each), large enough
#: that a table stored as it is costs about one link per MAX_SPAN rows.
MAX_SPAN = 64


def covering_link(table_id: str, identity: str, alias: str = "l", schema: str = "main") -> str:
    """``FROM`` item: the link of ``table_id`` covering source identity ``identity`` (no row
    when none does), as ``alias``."""
    return (
        f"(SELECT * FROM (SELECT * FROM {schema}.migration_row_links WHERE table_id = {table_id} "
        f"AND source_rowid <= {identity} ORDER BY source_rowid DESC LIMIT 1) "
        f"WHERE source_rowid + span > {identity}) AS {alias}"
    )


def reaches_next_link(alias: str = "l", schema: str = "main") -> str:
    """SQL: does link ``alias`` (a span) reach the source rows of the next link of its table?
    Links of one source table never overlap; one that does would count rows twice."""
    return (
        f"({alias}.span > 1 AND EXISTS (SELECT 1 FROM {schema}.migration_row_links AS nx "
        f"WHERE nx.table_id = {alias}.table_id AND nx.source_rowid > {alias}.source_rowid "
        f"AND nx.source_rowid < {alias}.source_rowid + {alias}.span))"
    )


def _nearest_span(shard: str, rowid: str, selected: str) -> str:
    """SQL: ``selected`` (of ``ns``, a link, and ``na``, its accounting row) for the span of
    table ``:target`` in shard ``shard`` starting nearest at or below merged row ``rowid``:
    spans of one table never overlap, so it is the only one that can hold the row. One walk
    down the span index, at most MAX_SPAN rowids deep."""
    return (
        f"SELECT {selected} FROM main.migration_row_links AS ns "
        "JOIN main.migration_table_accounting AS na ON na.id = ns.table_id "
        f"WHERE ns.span > 1 AND ns.in_conflicts = 0 AND ns.shard = {shard} AND ns.target_rowid <= {rowid} "
        f"AND ns.target_rowid > {rowid} - {MAX_SPAN} AND na.target_table = :target "
        "ORDER BY ns.target_rowid DESC LIMIT 1"
    )


def nearest_span_start(shard: str, rowid: str) -> str:
    """Scalar SQL: where the span that can hold merged row ``rowid`` starts (see
    :func:`_nearest_span`)."""
    return _nearest_span(shard, rowid, "ns.target_rowid")


def owner_of_merged_row(shard: str, rowid: str) -> str:
    """Scalar SQL: the id of the source whose version merged row ``rowid`` of table
    ``:target`` (a named parameter) in shard ``shard`` is (the first source linked to it).
    Its own aliases start with ``o`` or ``n``, so ``shard`` and ``rowid`` may name columns
    of an outer query."""
    nearest = _nearest_span(shard, rowid, "ns.target_rowid, ns.span, na.source_id")
    spanned = (  # the span that can hold the row, read in the one walk that finds it
        f"(SELECT CASE WHEN o.target_rowid + o.span > {rowid} THEN o.source_id END FROM ({nearest}) AS o)"
    )
    single = (
        "(SELECT min(oa.source_id) FROM main.migration_row_links AS ol "
        "JOIN main.migration_table_accounting AS oa ON oa.id = ol.table_id "
        f"WHERE ol.target_rowid = {rowid} AND ol.shard = {shard} AND ol.in_conflicts = 0 AND ol.span = 1 "
        "AND oa.target_table = :target)"
    )
    return f"coalesce({spanned}, {single})"


def split_spans_holding(connection, shard: int, target: str, rowids: str) -> None:
    """Break every span of ``target`` in ``shard`` that holds one of the merged rows
    ``rowids`` (a ``SELECT`` of one column, ``moved``) into one-row links, so those rows
    can move."""
    spans = connection.execute(
        "SELECT DISTINCT l.table_id, l.source_rowid FROM "
        f"(SELECT r.moved, ({nearest_span_start(':shard', 'r.moved')}) AS start FROM ({rowids}) AS r) AS n "
        "JOIN main.migration_row_links AS l ON l.shard = :shard AND l.target_rowid = n.start AND l.span > 1 "
        "AND l.in_conflicts = 0 "
        "JOIN main.migration_table_accounting AS a ON a.id = l.table_id AND a.target_table = :target "
        "WHERE n.moved < l.target_rowid + l.span",
        {"shard": shard, "target": target},
    ).fetchall()
    for table_id, source_rowid in spans:
        _split(connection, "table_id = :t AND source_rowid = :s", {"t": table_id, "s": source_rowid})


def split_kept_runs(connection, target: str) -> None:
    """Break every link of ``target``'s source tables that covers a run of kept versions
    into one-row links: taking a source out moves, promotes and deletes kept versions one
    by one, and each such step follows the one link to its row."""
    _split(connection, "in_conflicts = 1 AND span > 1 AND table_id IN "
                       "(SELECT id FROM main.migration_table_accounting WHERE target_table = :target)",
           {"target": target})


def _split(connection, links: str, parameters: dict) -> None:
    """Cut the links matching ``links`` (a condition on their columns) into one-row links."""
    connection.execute(
        "WITH RECURSIVE one(table_id, source_rowid, k) AS (SELECT table_id, source_rowid, 1 "
        f"FROM main.migration_row_links WHERE {links} AND span > 1 UNION ALL "
        "SELECT one.table_id, one.source_rowid, k + 1 FROM one JOIN main.migration_row_links AS l "
        "ON l.table_id = one.table_id AND l.source_rowid = one.source_rowid WHERE k + 1 < l.span) "
        "INSERT INTO main.migration_row_links (table_id, source_rowid, shard, target_rowid, in_conflicts, span) "
        "SELECT l.table_id, l.source_rowid + one.k, l.shard, l.target_rowid + one.k, l.in_conflicts, 1 "
        "FROM one JOIN main.migration_row_links AS l ON l.table_id = one.table_id AND l.source_rowid = one.source_rowid",
        parameters,
    )
    connection.execute(f"UPDATE main.migration_row_links SET span = 1 WHERE {links} AND span > 1", parameters)
