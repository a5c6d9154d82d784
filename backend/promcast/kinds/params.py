"""A prediction kind's parameters, each declared once: its key, type, limit, default and help.

The three front ends take a value from their own medium (a ``--flag``'s text, a Grafana payload value,
a RuleSpec's YAML value) and convert it with :meth:`Param.read`, naming the value the way the user gave
it (``--headroom``, ``payload.headroom``, ``field 'headroom'``), so all three accept the same values and
refuse the others with the same words. Which front ends read a parameter is part of its declaration
(:attr:`Param.read_by`), and a test checks that each does.

Nothing heavy is imported here: the CLI builds its parser from these declarations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable

from ..errors import InputError, UnknownNameError
from ..quantities import parse_quantity
from ..validation import Limit

#: the front ends that read parameters
CLI, SERVICE, RULES = "cli", "service", "rules"
EVERYWHERE = frozenset({CLI, SERVICE, RULES})


def _duration(param: "Param", value: Any, what: str) -> timedelta:
    from ..durations import parse_duration  # it loads pandas, which building the CLI's parser must not

    return parse_duration(value, what=what)


def _quantity(param: "Param", value: Any, what: str) -> float:
    number = parse_quantity(value, what=what)
    return param.limit.check(value, what, number=number) if param.limit else number


def _number(param: "Param", value: Any, what: str) -> float:
    return param.limit.check(value, what)


def _expression(param: "Param", value: Any, what: str) -> str:
    if isinstance(value, (dict, list, bool)) or value is None or not str(value).strip():
        raise InputError(f"bad {what} {value!r}: expected a PromQL expression")
    return str(value).strip()


def _choice(param: "Param", value: Any, what: str) -> str:
    if isinstance(value, (dict, list)) or str(value) not in param.choices:
        raise InputError(f"bad {what} {value!r}: expected one of {', '.join(param.choices)}")
    return str(value)


def _model(param: "Param", value: Any, what: str) -> str:
    from ..models.registry import model_names

    if isinstance(value, (dict, list)) or str(value) not in model_names():
        raise UnknownNameError(f"bad {what} {value!r}: unknown model; known models: {', '.join(model_names())}")
    return str(value)


@dataclass(frozen=True)
class ParamType:
    """How a parameter's text becomes its value, and what a flag's placeholder calls it."""

    name: str
    metavar: str
    convert: Callable[["Param", Any, str], Any]


DURATION = ParamType("duration", "DUR", _duration)
#: a number with an optional SI or binary unit (``2GiB``, ``5k``)
QUANTITY = ParamType("quantity", "Q", _quantity)
NUMBER = ParamType("number", "N", _number)
EXPRESSION = ParamType("expression", "PROMQL", _expression)
CHOICE = ParamType("choice", "NAME", _choice)
MODEL = ParamType("model", "MODEL", _model)


@dataclass(frozen=True)
class Param:
    """One parameter of a prediction kind."""

    #: the key in a RuleSpec target and in a Grafana payload
    name: str
    type: ParamType
    #: one line for ``--help``
    help: str
    #: the value when not given, as a user would write it (None: none; a callable: asked when needed)
    default: Any = None
    #: the shared range of a number (:mod:`promcast.validation`)
    limit: Limit | None = None
    #: the ``predict`` flag without its dashes, when it is not the key's (``--capacity`` for disk's ``size``)
    flag_name: str | None = None
    #: the estimator option it becomes, when not its key
    option_name: str | None = None
    choices: tuple[str, ...] = ()
    #: the front ends that read it: :data:`CLI`, :data:`SERVICE`, :data:`RULES`
    read_by: frozenset[str] = EVERYWHERE

    @property
    def flag(self) -> str:
        """``--cost-period``: the ``predict`` flag."""
        return "--" + (self.flag_name or self.name).replace("_", "-")

    @property
    def dest(self) -> str:
        """The flag's attribute on argparse's namespace."""
        return self.flag[2:].replace("-", "_")

    @property
    def option(self) -> str:
        return self.option_name or self.name

    @property
    def metavar(self) -> str:
        return self.type.metavar

    def default_value(self) -> Any:
        """The default as given (not converted); None when the parameter has none."""
        return self.default() if callable(self.default) else self.default

    def read(self, value: Any, what: str) -> Any:
        """``value`` converted and checked, or an :class:`InputError` naming ``what`` (the flag, key or field)."""
        return self.type.convert(self, value, what)

    def read_or_default(self, value: Any, what: str) -> Any:
        """``value`` read, or the default read when ``value`` is None; None when there is neither."""
        if value is None:
            value = self.default_value()
        return None if value is None else self.read(value, what)


__all__ = ["CHOICE", "CLI", "DURATION", "EVERYWHERE", "EXPRESSION", "MODEL", "NUMBER", "Param", "ParamType",
           "QUANTITY", "RULES", "SERVICE"]
