"""``CONSOLIDATED_DATABASE_LIST.md``: the human-readable list of a folder's databases.

The inventory reports, for each database, whether the list names it; the gate's
``listed`` items build on the same reading. A database counts as listed when the list
mentions its path relative to the folder, or its file name, as a code span or a bare
word ending in a database suffix.
"""

from __future__ import annotations

import re
from pathlib import Path

from .errors import BadInput

LIST_FILENAME = "CONSOLIDATED_DATABASE_LIST.md"
DATABASE_SUFFIXES = (".db", ".sqlite", ".sqlite3")

_CODE_SPAN = re.compile(r"`([^`\n]+)`")
_BARE_NAME = re.compile(r"[\w./@+-]+\.(?:db|sqlite3?)(?!\.?[\w-])", re.IGNORECASE)


def listed_names(directory: Path) -> set[str] | None:
    """Names the folder's list mentions, or None when the folder has no list."""
    list_path = directory / LIST_FILENAME
    if not list_path.is_file():
        return None
    return names_in_list(list_path)


def names_in_list(list_path: Path) -> set[str]:
    """Database names a list file mentions, as code spans or bare words."""
    try:
        text = list_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise BadInput(f"{list_path}: cannot read ({error})") from None
    names = {span.strip() for span in _CODE_SPAN.findall(text)}
    names.update(_BARE_NAME.findall(text))
    return {name.removeprefix("./") for name in names if name.lower().endswith(DATABASE_SUFFIXES)}


def is_listed(relative_path: str, names: set[str]) -> bool:
    return relative_path in names or relative_path.rsplit("/", 1)[-1] in names
