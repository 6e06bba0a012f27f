"""Phase 5: render stored templates into scripts, and keep usage metrics.

A template is a ``template_assets`` row whose text has ``${name}`` placeholders.
Rendering needs a value for every placeholder (the error names the missing ones),
counts the use on the template (``usage_count``, ``last_used``), can store the result as
a script asset, and is logged. Patterns carry the same usage metrics.
"""

from __future__ import annotations

import os
import re
import sqlite3
import stat
import string
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInput
from ..sqlite.backup import find_workspace
from ..sqlite.introspect import quote_identifier as q
from ..store import ASSET_TABLES, Operation, read_consolidated, utc_now, write_session
from ..store.owned import DatabaseSet
from ..store.schema import USAGE_TRACKING_KINDS
from .asset_rows import StoredAsset, find_asset, hostile_reads
from .confine import mode_problem, unsafe_reason
from .current import current_assets
from .ingest import record_asset
from .pack import pack_bytes
from .stored import stored_bytes


class Placeholders(string.Template):
    """``${name}`` placeholders, and only those: a template is often a script, whose own
    ``$HOME`` or ``$$`` must come out as written (the standard ``$name`` and ``$$`` forms
    of :class:`string.Template` are switched off)."""

    pattern = r"\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}(?P<named>(?!))?(?P<escaped>(?!))?(?P<invalid>(?!))?"


NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
TEMPLATE_MAX_SIZE = 16 * 2**20  # rendering holds a template in memory: a larger one is refused unread


@dataclass(frozen=True)
class Rendered:
    name: str
    text: str
    placeholders: list[str]
    stored_as: str | None


def parse_assignments(assignments: list[str]) -> dict[str, str]:
    values = {}
    for assignment in assignments:
        key, separator, value = assignment.partition("=")
        if not separator or not NAME.match(key):
            raise BadInput(f"--set {assignment!r}: use NAME=VALUE, NAME made of letters, digits and _")
        values[key] = value
    return values


def placeholders(template: str) -> list[str]:
    return sorted(set(Placeholders(template).get_identifiers()))


def render_text(template: str, values: dict[str, str]) -> str:
    missing = [name for name in placeholders(template) if name not in values]
    if missing:
        raise BadInput(f"missing values for {', '.join(missing)} (give them with --set NAME=VALUE)")
    return Placeholders(template).substitute(values)


def _find(connection: sqlite3.Connection, kind: str, name: str) -> StoredAsset:
    rows = find_asset(connection, kind, name)
    if not rows:
        table = q(ASSET_TABLES[kind])
        known = [row[0] for row in connection.execute(f"SELECT name FROM {table} WHERE is_current ORDER BY name")]
        raise BadInput(f"no {kind} named {name!r} (known: {', '.join(map(str, known[:20])) or 'none'})")
    if len(rows) > 1:
        raise BadInput(f"{name!r} names several {kind}s; use its path")
    return rows[0]


def _template_text(connection: sqlite3.Connection, shards: dict[int, str], kind: str, asset: StoredAsset) -> str:
    """The template's text, its row judged as hostile input first (the database is
    anyone's to edit): a safe path, a regular file's mode, a size under the cap."""
    reason = asset.defect or (unsafe_reason(asset.path) and f"unsafe stored path ({unsafe_reason(asset.path)})") \
        or mode_problem(asset.mode)
    if reason is None and asset.is_link:
        reason = "a symlink; render the template it points to"
    if reason:
        raise BadInput(f"refusing {asset.row}: {reason}")
    try:
        return stored_bytes(connection, shards, asset, TEMPLATE_MAX_SIZE, "templates are rendered in memory").decode("utf-8")
    except UnicodeDecodeError:
        raise BadInput(f"{kind} {asset.name!r} is not UTF-8 text; only text is rendered") from None


def render(
    database: Path | str,
    name: str,
    values: dict[str, str],
    kind: str = "template",
    store_as: str | None = None,
    *,
    limit: int,
) -> Rendered:
    """Render template (or pattern) ``name``; count the use; optionally store the result
    (under ``limit``, like every write)."""
    database = Path(database)
    if kind not in USAGE_TRACKING_KINDS:
        raise BadInput(f"only {' and '.join(USAGE_TRACKING_KINDS)}s are rendered")
    with hostile_reads(database), read_consolidated(database) as (connection, shards):
        asset = _find(connection, kind, name)
        template = _template_text(connection, shards, kind, asset)
    text = render_text(template, values)
    if store_as is not None and unsafe_reason(os.fsencode(store_as)):
        raise BadInput(f"--as {store_as!r}: {unsafe_reason(os.fsencode(store_as))}")
    if store_as is not None and DatabaseSet.of(database).owns(find_workspace(database) / store_as):
        raise BadInput(f"--as {store_as!r}: a file of the consolidated set itself, which is never an asset")
    encoded = text.encode()
    with write_session(database, limit, f"rendering {asset.name}") as session:
        connection, now = session.connection, utc_now()
        connection.execute(
            f"UPDATE {q(ASSET_TABLES[kind])} SET usage_count = usage_count + 1, last_used = ? "
            "WHERE path = CAST(? AS TEXT) AND is_current",
            (now, asset.path),
        )
        if store_as is not None:
            path = os.fsencode(store_as)
            previous = current_assets(connection).get(path)
            if previous is not None and previous.kind in USAGE_TRACKING_KINDS:  # rolled back with the use counted
                raise BadInput(f"--as {store_as!r}: the stored {previous.kind} {store_as!r} is there, and a rendered "
                               "script would replace it; store the result under another path")
            packed = pack_bytes(path, encoded, stat.S_IFREG | 0o644, time.time_ns())
            record_asset(connection, session.shards, packed, "script", previous, now)
        Operation(
            "render",
            subject=asset.name,
            counts={"placeholders": len(placeholders(template))},
            bytes=len(encoded),
            details={"kind": kind, "stored_as": store_as},
        ).record(connection, "ok")
    return Rendered(asset.name, text, placeholders(template), store_as)


@dataclass(frozen=True)
class AssetListing:
    kind: str
    path: str
    name: str | None
    version: int
    size: int
    sha256: str
    usage_count: int | None
    last_used: str | None


def list_assets(database: Path | str, kinds: tuple[str, ...] = (), top_used: bool = False) -> list[AssetListing]:
    """Current assets, by kind and path; with ``top_used``, templates and patterns by use."""
    listing = []
    with read_consolidated(database) as (connection, _):
        connection.text_factory = lambda raw: raw.decode("utf-8", "surrogateescape")
        for kind, table in ASSET_TABLES.items():
            if (kinds and kind not in kinds) or (top_used and kind not in USAGE_TRACKING_KINDS):
                continue
            usage = "name, usage_count, last_used" if kind in USAGE_TRACKING_KINDS else "NULL, NULL, NULL"
            for row in connection.execute(
                f"SELECT path, {usage}, version, size, sha256 FROM {q(table)} "
                "WHERE is_current AND deleted_at IS NULL ORDER BY path"
            ):
                path, name, count, last_used, version, size, sha = row
                listing.append(AssetListing(kind, path, name, version, size, sha, count, last_used))
    if top_used:
        listing.sort(key=lambda asset: (-(asset.usage_count or 0), asset.kind, asset.path))
    return listing
