"""Kubernetes label selectors (``app=web,tier!=db,canary,!legacy,env in (prod,staging)``) for the allow-list."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

from ..errors import InputError

_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_EQ = re.compile(rf"^({_KEY})\s*(==|=|!=)\s*({_VALUE})$")
_SET = re.compile(rf"^({_KEY})\s+(in|notin)\s+\(([^()]*)\)$")
_EXISTS = re.compile(rf"^(!?)\s*({_KEY})$")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "in", "notin", "exists", "!exists"
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.op == "exists":
            return self.key in labels
        if self.op == "!exists":
            return self.key not in labels
        if self.op == "in":
            return labels.get(self.key) in self.values
        return labels.get(self.key) not in self.values


@dataclass(frozen=True)
class LabelSelector:
    text: str
    requirements: tuple[Requirement, ...]

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)


def _split(text: str) -> list[str]:
    """Split on commas outside parentheses."""
    parts, depth, current = [], 0, []
    for char in text:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p.strip() for p in parts]


def parse_selector(text: str) -> LabelSelector:
    """Parse a selector as ``kubectl -l`` takes it; InputError names the part that is wrong."""
    requirements = []
    for part in _split(text):
        if (m := _EQ.match(part)):
            op = "notin" if m.group(3) == "!=" else "in"
            requirements.append(Requirement(m.group(1), op, frozenset({m.group(4)})))
        elif (m := _SET.match(part)):
            values = frozenset(v.strip() for v in m.group(4).split(",") if v.strip())
            requirements.append(Requirement(m.group(1), m.group(3), values))
        elif (m := _EXISTS.match(part)):
            requirements.append(Requirement(m.group(2), "!exists" if m.group(1) else "exists"))
        else:
            raise InputError(f"bad label selector part {part!r} in {text!r}: use key=value, key!=value, "
                             "key in (a,b), key notin (a,b), key or !key")
    return LabelSelector(text, tuple(requirements))
