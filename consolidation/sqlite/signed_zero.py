"""Telling -0.0 from 0.0 in SQL, on every build of SQLite.

SQLite's ``=`` and ``IS`` take -0.0 for 0.0, and ``quote``, ``printf`` and ``sqldiff``
print both as 0.0; only builds with the math functions have ``atan2``, which tells them
apart. A column without affinity keeps the sign, so the merge, the live proof and the
fingerprint must see it, the same way whatever the build: Python tells it, through one
SQL function each connection is given before it compares or fingerprints a row. It is
called only where a zero real is met (every expression using it tests ``x <> 0`` first).
"""

from __future__ import annotations

import math
import sqlite3

#: The SQL function: 1 for -0.0, else 0.
NEGATIVE_ZERO = "assetdb_negative_zero"


def _is_negative_zero(value) -> int:
    return int(isinstance(value, float) and value == 0.0 and math.copysign(1.0, value) < 0)


def tell_the_sign_of_zero(connection: sqlite3.Connection) -> None:
    """Give ``connection`` the :data:`NEGATIVE_ZERO` function, once: replacing a function
    while a statement of the connection runs is refused, adding one is not."""
    try:
        connection.execute(f"SELECT {NEGATIVE_ZERO}(0.0)").fetchone()
    except sqlite3.OperationalError:
        connection.create_function(NEGATIVE_ZERO, 1, _is_negative_zero, deterministic=True)
