"""Any SQLite file, handled safely: what it is, reading it untouched, describing it, proving a copy.

This layer knows nothing of the consolidated set; every other layer reads legacy and
consolidated files through it.
"""

from .backup import (
    BackupRecord,
    backup_database,
    default_backup_directory,
    restore_database,
)
from .describe import SourceDescription, SourceTable, describe_source
from .fingerprint import database_fingerprint, file_sha256
from .header import EmptyDatabase, Header, NotADatabase, read_header
from .introspect import has_table, quote_identifier
from .locks import DatabaseLocked, opened_elsewhere, writer_lock_holder
from .readonly import open_readonly, readonly_uri

__all__ = [
    "BackupRecord",
    "DatabaseLocked",
    "EmptyDatabase",
    "Header",
    "NotADatabase",
    "SourceDescription",
    "SourceTable",
    "backup_database",
    "database_fingerprint",
    "default_backup_directory",
    "describe_source",
    "file_sha256",
    "has_table",
    "open_readonly",
    "quote_identifier",
    "read_header",
    "readonly_uri",
    "restore_database",
    "opened_elsewhere",
    "writer_lock_holder",
]
