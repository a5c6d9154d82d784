"""One range per user-given parameter, whichever way it arrives (a RuleSpec, a panel's payload, a flag).

Each :class:`Limit` says what is accepted and how to say it when a value is not, so the rules, the
service, the CLI and the predictors refuse the same values with the same words instead of each
keeping its own bounds (a RuleSpec once took sensitivity 20 that the exported band silently cut to 8).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .errors import InputError


@dataclass(frozen=True)
class Limit:
    name: str
    low: float
    high: float
    low_open: bool = False
    high_open: bool = False
    #: what the number means and a good value, for messages
    meaning: str = "a number"
    example: str = ""

    def contains(self, value: float) -> bool:
        if value != value or math.isinf(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def describe(self) -> str:
        """``"above 0 and at most 8, e.g. 3"``: the accepted range in words."""
        example = f", e.g. {self.example}" if self.example else ""
        if math.isinf(self.high):
            low = f"above {self.low:g}" if self.low_open else f"of {self.low:g} or more"
            return f"{self.meaning} {low}{example}"
        low = f"above {self.low:g} and" if self.low_open else f"from {self.low:g}"
        high = (f"up to (not including) {self.high:g}" if self.high_open
                else f"{'at most' if self.low_open else 'to'} {self.high:g}")
        return f"{self.meaning} {low} {high}{example}"

    def check(self, value: Any, what: str | None = None, *, number: float | None = None) -> float:
        """``value`` as a float (or ``number``, already converted from it), or an :class:`InputError`
        naming ``what`` (default: the parameter) and the value as given."""
        if number is None:
            try:
                number = float(value)
            except (TypeError, ValueError):
                number = math.nan
        if isinstance(value, bool) or not self.contains(number):
            raise InputError(f"bad {what or self.name} {value!r}: expected {self.describe()}")
        return number


#: robust standard deviations an anomaly must reach; beyond 8 a score's threshold rounds to exactly 1
SENSITIVITY = Limit("sensitivity", 0.0, 8.0, low_open=True, meaning="a number of robust standard deviations",
                    example="3")
#: share of a capacity kept free
HEADROOM = Limit("headroom", 0.0, 1.0, high_open=True, meaning="a fraction", example="0.2 for 20 %")

#: a filesystem's size, in the unit of the series
DISK_SIZE = Limit("size", 0.0, math.inf, low_open=True, meaning="a size", example="500GiB, or 100 for percent")
#: the load a system can take, in the unit of the series
CAPACITY = Limit("capacity", 0.0, math.inf, low_open=True, meaning="a load", example="5000 or 5k")
#: a memory limit
MEMORY_LIMIT = Limit("limit", 0.0, math.inf, low_open=True, meaning="a number of bytes", example="2GiB")
#: the price of one unit of capacity per cost period (0: free)
UNIT_COST = Limit("unit_cost", 0.0, math.inf, meaning="a price", example="12.5")

__all__ = ["CAPACITY", "DISK_SIZE", "HEADROOM", "Limit", "MEMORY_LIMIT", "SENSITIVITY", "UNIT_COST"]
