"""Numbers with an optional SI or binary unit (``2GiB``, ``512Mi``, ``1.5G``, ``5k``), as SREs write limits."""

from __future__ import annotations

import math
import re

from .errors import InputError

UNITS = {
    "": 1.0, "b": 1.0,
    "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12, "p": 1e15,
    "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12, "pb": 1e15,
    "ki": 2.0**10, "mi": 2.0**20, "gi": 2.0**30, "ti": 2.0**40, "pi": 2.0**50,
    "kib": 2.0**10, "mib": 2.0**20, "gib": 2.0**30, "tib": 2.0**40, "pib": 2.0**50,
}
QUANTITY = re.compile(r"^\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z]*)\s*$")
ALLOWED = "a number with an optional unit (2GiB, 512MiB, 1.5G, 5k)"


def parse_quantity(value, *, what: str = "value") -> float:
    """``2GiB`` -> 2147483648.0; a bare number as is. Raises :class:`InputError` naming ``what``."""
    if isinstance(value, bool) or value is None:
        raise InputError(f"bad {what} {value!r}: expected {ALLOWED}")
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        match = QUANTITY.match(str(value))
        unit = match.group(2).lower() if match else None
        if not match or unit not in UNITS:
            raise InputError(f"bad {what} {value!r}: expected {ALLOWED}")
        number = float(match.group(1)) * UNITS[unit]
    if not math.isfinite(number):
        raise InputError(f"bad {what} {value!r}: must be a finite number")
    return number
