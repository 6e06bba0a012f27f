"""Path globs as a repository's owner reads them, and the files left out on purpose.

One glob dialect for the whole tool (asset kinds, ``--exclude``, ``[tool.assetdb] exclude``):
gitignore's, where ``**`` spans folders, ``*`` does not, and a pattern without ``/`` matches
the file name in any folder.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path


def glob_pattern(pattern: str) -> re.Pattern[str]:
    """A path glob as gitignore reads it: ``**`` spans folders, ``*`` does not, and a
    pattern without ``/`` matches the file name in any folder."""
    if "/" not in pattern:
        pattern = "**/" + pattern
    regex = ""
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            regex, index = regex + "(?:.*/)?", index + 3
        elif pattern.startswith("**", index):
            regex, index = regex + ".*", index + 2
        elif pattern[index] == "*":
            regex, index = regex + "[^/]*", index + 1
        elif pattern[index] == "?":
            regex, index = regex + "[^/]", index + 1
        else:
            regex, index = regex + re.escape(pattern[index]), index + 1
    return re.compile(regex + r"\Z", re.DOTALL)


def resolved(path: Path | str) -> Path:
    """``path`` with every symlink followed as far as it goes. Unlike ``Path.resolve()``,
    which raises ``RuntimeError`` on a symlink loop (Python before 3.13), it never raises:
    a looping or dangling link resolves to where following it stops."""
    return Path(os.path.realpath(path))


def _relative(path: Path, base: Path) -> str | None:
    try:
        return resolved(path).relative_to(resolved(base)).as_posix()
    except (ValueError, OSError):
        return None


def _through_links(pattern: str) -> str:
    """An absolute pattern with the folders before its first wildcard resolved, as the
    paths it is matched with are."""
    head, _, rest = pattern.partition("*")
    folder, _, name = head.rpartition("/")
    return os.path.realpath(folder or "/") + "/" + name + (("*" + rest) if _ else "")


@dataclass(frozen=True)
class Exclusions:
    """Files left out on purpose: ``--exclude GLOB`` (repeatable) and ``[tool.assetdb] exclude``.

    A pattern without ``/`` matches a file name in any folder; one with ``/`` matches the
    path relative to the project root (where ``pyproject.toml`` is, else the current
    folder) or to the current folder, so the README's commands mean the same run from the
    repository root; an absolute one matches the file's absolute path.
    """

    patterns: tuple[str, ...] = ()
    roots: tuple[Path, ...] = ()

    @classmethod
    def of(cls, patterns, project_root: Path | None = None) -> Exclusions:
        roots = tuple(dict.fromkeys(p for p in (project_root, Path.cwd()) if p is not None))
        return cls(tuple(patterns), roots)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_compiled", [glob_pattern(pattern) for pattern in self.patterns])
        # an absolute pattern, also as its folders resolve (compiled once: matching runs per file)
        object.__setattr__(self, "_whole", {pattern: (glob_pattern(pattern), glob_pattern(_through_links(pattern)))
                                            for pattern in self.patterns if os.path.isabs(pattern)})

    def matching(self, path: Path) -> str | None:
        """The first pattern that leaves ``path`` out, or None."""
        for pattern, compiled in zip(self.patterns, self._compiled):
            if pattern in self._whole and any(form.match(Path(spelled).as_posix()) for form in self._whole[pattern]
                                              for spelled in (os.path.abspath(path), resolved(path))):
                return pattern  # a path given whole (--exclude "$PWD/databases/x.db", $PWD through a link too)
            for root in self.roots:
                relative = _relative(path, root)
                if relative is not None and compiled.match(relative):
                    return pattern
            if "/" not in pattern and compiled.match(path.name):
                return pattern
        return None

    def __bool__(self) -> bool:
        return bool(self.patterns)
