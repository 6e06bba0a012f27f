"""Errors that carry the exit code of the command line: 0 ok, 1 a check failed, 2 bad
usage or bad input, 3 aborted and rolled back.

The library raises these; the command line turns each into one line on stderr and the
matching exit code, and the pytest plugin turns them into failing items. Anything else
that escapes is a bug.
"""

from __future__ import annotations


class AssetdbError(Exception):
    """Base of every error a user can cause; ``exit_code`` is what the command line exits with."""

    exit_code = 2


class BadInput(AssetdbError):
    """Bad usage or bad input: a path, a limit, a file that is not what it should be."""

    exit_code = 2


class CheckFailed(AssetdbError):
    """A check ran and found a problem (a file over the cap, a failed verification)."""

    exit_code = 1


class Aborted(AssetdbError):
    """The operation stopped and rolled back: cap reached, backup failed, lock held."""

    exit_code = 3


class DamagedSet(CheckFailed):
    """A file of the consolidated set is missing, or is not the shard its manifest registers
    (emptied, overwritten, another set's): the set fails its check, whatever was asked of it."""
