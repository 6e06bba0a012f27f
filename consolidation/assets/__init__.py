"""Phases 3–5, file assets: every script, document, template and pattern, byte for byte.

Ingest stores a workspace, regenerate writes it back out, sync keeps the two in step,
templates render into scripts; every reader decodes bytes through one hash-checked path.
"""

from .ingest import IngestReport, ingest
from .kinds import Classifier
from .regenerate import RegenerateReport, regenerate
from .sync import PullReport, pull, push, read_log
from .templates import AssetListing, Rendered, list_assets, parse_assignments, render

__all__ = [
    "AssetListing",
    "Classifier",
    "IngestReport",
    "PullReport",
    "RegenerateReport",
    "Rendered",
    "ingest",
    "list_assets",
    "parse_assignments",
    "pull",
    "push",
    "read_log",
    "regenerate",
    "render",
]
