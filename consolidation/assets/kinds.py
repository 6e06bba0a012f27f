"""The kind of a workspace file: script, documentation, template or pattern.

Path rules decide, in order: the ``assetdb_classify_asset`` hook, then the user's
``[tool.assetdb.kinds]`` globs, then the defaults below. Globs read as gitignore reads
them, so ``templates/**`` and ``*.md`` mean what a repository's owner expects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..config import load_settings
from ..errors import BadInput
from ..globs import glob_pattern
from ..store import ASSET_TABLES

#: Default classification, first match wins; users extend it in [tool.assetdb.kinds].
DEFAULT_RULES: dict[str, tuple[str, ...]] = {
    "template": ("templates/**", "*.tmpl", "*.template"),
    "pattern": ("patterns/**", "*.pattern"),
    "documentation": ("*.md", "*.rst", "*.txt", "README*", "docs/**", "LICENSE*", "CHANGELOG*"),
    "script": ("**",),
}


@dataclass
class Classifier:
    """Path rules (user rules first, then the defaults) and the plugin hook."""

    rules: list[tuple[str, re.Pattern[str]]]
    hook: object | None = None

    @classmethod
    def for_workspace(cls, workspace: Path, manager=None) -> Classifier:
        user = load_settings(workspace).kinds
        rules = [(kind, glob_pattern(p)) for kind, patterns in user.items() for p in patterns]
        rules += [(kind, glob_pattern(p)) for kind, patterns in DEFAULT_RULES.items() for p in patterns]
        hook = None
        if manager is not None and manager.hook.assetdb_classify_asset.get_hookimpls():
            hook = manager.hook.assetdb_classify_asset
        return cls(rules, hook)

    def kind_of(self, path: str) -> str:
        if self.hook is not None:
            kind = self.hook(path=path)
            if kind is not None:
                if kind not in ASSET_TABLES:
                    raise BadInput(f"a plugin classified {path!r} as {kind!r}; kinds are {', '.join(ASSET_TABLES)}")
                return kind
        return next(kind for kind, pattern in self.rules if pattern.match(path))
