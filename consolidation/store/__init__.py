"""The consolidated set itself: ``enterprise_assets.db`` and its shards.

The unified schema and its initializer, the write session every change goes through,
the shards that keep each file under the cap, and the operation log.
"""

from .initialize import InitResult, initialize
from .oplog import Operation, utc_now
from .reading import read_consolidated, shadow_with_union_views
from .schema import APPLICATION_ID, ASSET_TABLES, COMPATIBLE_SINCE, SCHEMA_VERSION
from .session import (
    WriteSession,
    connect_assetdb,
    record_operation,
    write_session,
    write_transaction,
)
from .shard_files import shard_path
from .shards import ShardSet

__all__ = [
    "APPLICATION_ID",
    "ASSET_TABLES",
    "COMPATIBLE_SINCE",
    "InitResult",
    "Operation",
    "SCHEMA_VERSION",
    "ShardSet",
    "connect_assetdb",
    "initialize",
    "read_consolidated",
    "record_operation",
    "shadow_with_union_views",
    "shard_path",
    "utc_now",
    "WriteSession",
    "write_session",
    "write_transaction",
]
