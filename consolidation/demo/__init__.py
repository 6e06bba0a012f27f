"""The demo a new user runs first: a legacy set and a workspace, deterministic from a seed."""

from .legacy import build_legacy_set
from .rows import DEMO_DATABASES
from .workspace import build_demo_workspace

__all__ = ["DEMO_DATABASES", "build_demo_workspace", "build_legacy_set"]
