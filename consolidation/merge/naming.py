"""Stable, unique names for sources and for tables kept apart.

A source keeps the name it was first migrated under (its ledger entry), so migrating the
same file again is recognised; two files with the same name get longer names, by their
parent folders, rather than colliding.
"""

from __future__ import annotations

from pathlib import Path


def assign_source_names(paths: list[Path], known: dict[str, str]) -> dict[Path, str]:
    """A stable, unique name per source: a path already in the ledger keeps its name;
    otherwise its file name, lengthened by parent folders while another source (in this
    run, or in the ledger from elsewhere) would share it."""
    by_original = {original: name for name, original in known.items()}
    resolved = {path: path.resolve() for path in paths}
    taken = dict(known)
    names: dict[Path, str] = {}

    def suffix(path: Path, depth: int) -> str:
        return "/".join(resolved[path].parts[-depth:])

    for path in paths:
        original = str(resolved[path])
        if original in by_original:
            names[path] = by_original[original]
            continue
        for depth in range(1, len(resolved[path].parts) + 1):
            candidate = suffix(path, depth)
            shared_in_run = any(other != path and suffix(other, depth) == candidate for other in paths)
            if not shared_in_run and taken.get(candidate, original) == original:
                break
        names[path] = candidate
        taken[candidate] = original
    return names


def _stem(source_name: str) -> str:
    stem = source_name.rsplit("/", 1)[-1]
    return stem.rsplit(".", 1)[0] if "." in stem else stem
