"""A small demo workspace: the kinds of files the legacy project kept beside its databases.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import BadInput
from .rows import BASE_TIME

#: A small workspace of the kinds of files the legacy project kept: scripts, docs,
#: templates with ${placeholders}, learned patterns.
DEMO_WORKSPACE = {
    "README.md": "# Legacy workspace\n\nScripts, docs, templates and patterns that `assetdb` consolidates.\n",
    "docs/setup.md": "# Setup\n\nRun `make demo`.\n",
    "scripts/size_compliance_checker.py": "import sys\n\nprint('checking sizes', sys.argv[1:])\n",
    "scripts/cross_database_sync_logger.py": "def log(operation):\n    print('sync', operation)\n",
    "templates/script.py.tmpl": "#!/usr/bin/env python3\n# ${description}\nprint('${greeting}, ${name}')\n",
    "patterns/retry.pattern": "retry ${times} times with exponential backoff\n",
}


def build_demo_workspace(directory: Path) -> list[Path]:
    """Write the demo workspace into ``directory`` (refusing to overwrite), deterministically."""
    directory = Path(directory)
    paths = []
    for relative, text in sorted(DEMO_WORKSPACE.items()):
        path = directory / relative
        if path.exists():
            raise BadInput(f"{path}: already exists; the demo workspace is only written into a clean directory")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        os.utime(path, (BASE_TIME.timestamp(), BASE_TIME.timestamp()))
        paths.append(path)
    return paths
