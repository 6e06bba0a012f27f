"""``python -m consolidation`` is the ``assetdb`` command."""

from .cli import main

main()
