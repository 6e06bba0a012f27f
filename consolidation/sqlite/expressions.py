"""SQL expressions over every column of a table, for tables of any width.

SQLite refuses an expression tree deeper than 1,000 ("Expression tree is too large"),
and a chain with one term per column (``a AND b AND …``, ``x || y || …``) is as deep as
the table is wide: a table of 1,999 columns (SQLite allows 2,000) cannot be compared or
serialised that way. The terms are grouped into balanced parentheses instead, so the
tree is a few dozen levels deep whatever the width.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from .signed_zero import NEGATIVE_ZERO

#: Terms per parenthesised group: depth grows with log base GROUP of the width.
GROUP = 32


def balanced(terms: Sequence[str], operator: str, empty: str) -> str:
    """``terms`` joined by ``operator`` in nested groups of at most :data:`GROUP`."""
    if not terms:
        return empty
    level = list(terms)
    while len(level) > GROUP:
        level = [
            "(" + f" {operator} ".join(level[start : start + GROUP]) + ")" for start in range(0, len(level), GROUP)
        ]
    return "(" + f" {operator} ".join(level) + ")"


def all_of(terms: Sequence[str]) -> str:
    """Every term holds (true for no terms)."""
    return balanced(terms, "AND", "1")


def any_of(terms: Sequence[str]) -> str:
    """Some term holds (false for no terms)."""
    return balanced(terms, "OR", "0")


def same_row(left: str, right: str, columns: Sequence[str], untyped: Collection[str] = ()) -> str:
    """Rows aliased ``left`` and ``right`` agree on every one of ``columns`` (quoted names):
    each value the same in the same storage class, compared byte for byte
    whatever the column's collation (``1`` is not ``1.0``, ``'a'`` is not ``X'61'``, NULL is
    not ``''``, ``'A'`` is not ``'a'`` under NOCASE). ``untyped``: the columns without affinity on
    either side, the only ones that can keep a -0.0 apart from 0.0; there the sign of a zero
    is compared too (on a connection given ``signed_zero.tell_the_sign_of_zero``).

    Every value comparison comes before every storage-class comparison, so where SQLite
    stops at the first term that fails (a ``WHERE``, an ``ON``, a ``CASE WHEN``), rows that
    differ cost one comparison, not two calls of ``typeof`` per column. An ``AND`` computed
    as a value evaluates all its terms: wrap the test in ``CASE WHEN … THEN 1 ELSE 0 END``
    there."""
    terms = [_same_bytes(f"{left}.{c}", f"{right}.{c}") for c in columns]
    terms += [_same_class(f"{left}.{c}", f"{right}.{c}") for c in columns]
    terms += [_same_sign_of_zero(f"{left}.{c}", f"{right}.{c}") for c in columns if c in untyped]
    return all_of(terms)


def _same_bytes(left: str, right: str) -> str:
    return f"{left} IS {right} COLLATE BINARY"


def _same_class(left: str, right: str) -> str:
    return f"typeof({left}) = typeof({right})"


def _same_sign_of_zero(left: str, right: str) -> str:
    """-0.0 and 0.0 compare equal, yet a column without affinity keeps the sign: the
    function of :mod:`.signed_zero` tells them apart."""
    # cheapest first: nearly every value is not zero, and that costs no function call
    return (f"({left} <> 0 OR typeof({left}) <> 'real' "
            f"OR {NEGATIVE_ZERO}({left}) = {NEGATIVE_ZERO}({right}))")
