"""Declarative constraints on option and parameter values, after scikit-learn's
``sklearn/utils/_param_validation.py``: an option declares what it accepts once (a tuple of
alternatives such as ``(Integer(Range(1)), None)``), and :func:`check` converts a value or
raises a one-line :class:`~alsel.errors.ConfigError` that says what was expected.

Loop options derive their constraints from ``LoopConfig``'s field annotations; strategies
declare theirs in ``_parameter_constraints``.

>>> check("projection_dim", 32.0, (Integer(Range(1)), None))
32
>>> check("rounds", "two", Integer(Range(0)))
Traceback (most recent call last):
...
alsel.errors.ConfigError: rounds must be an integer >= 0, got 'two'
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real as RealNumber
from typing import cast

from .errors import ConfigError

__all__ = ["Range", "Integer", "Real", "Numeric", "Choice", "Text", "Flag", "Mapping", "check", "alternatives"]


class _Reject(Exception):
    """A constraint does not accept the value (the caller tries the next alternative)."""


@dataclass(frozen=True)
class Range:
    """Numbers from ``low`` to ``high`` (``None``: unbounded); ``closed`` says which ends belong
    to it: ``"both"``, ``"left"``, ``"right"`` or ``"neither"``."""

    low: float | None = None
    high: float | None = None
    closed: str = "both"

    def __contains__(self, x) -> bool:
        left_in = self.closed in ("both", "left")
        right_in = self.closed in ("both", "right")
        above = self.low is None or (x >= self.low if left_in else x > self.low)
        below = self.high is None or (x <= self.high if right_in else x < self.high)
        return above and below

    def describe(self) -> str:
        left_in = self.closed in ("both", "left")
        right_in = self.closed in ("both", "right")
        if self.high is None:
            return "" if self.low is None else f" {'>=' if left_in else '>'} {_number(self.low)}"
        if self.low is None:
            return f" {'<=' if right_in else '<'} {_number(self.high)}"
        return f" in {'[' if left_in else '('}{_number(self.low)}, {_number(self.high)}{']' if right_in else ')'}"


def _number(x) -> str:
    """A bound as written: whole numbers in full (a seed's 4294967295), others short (0.5, 1e-05)."""
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


@dataclass(frozen=True)
class Integer:
    """An integer in ``range``; bools are not integers here, a float without a fraction is
    (YAML and JSON may write ``2.0``)."""

    range: Range = Range()

    def convert(self, value) -> int:
        if isinstance(value, bool) or not isinstance(value, RealNumber):
            raise _Reject
        number = cast(float, value)  # a numbers.Real, which typeshed gives no __int__
        if not isinstance(value, Integral) and not (math.isfinite(number) and number == int(number)):
            raise _Reject
        if int(number) not in self.range:
            raise _Reject
        return int(number)

    def describe(self) -> str:
        return "an integer" + self.range.describe()


@dataclass(frozen=True)
class Real:
    """A finite number in ``range``. A numeric string counts: YAML 1.1 reads ``5e-5`` (no dot)
    as a string."""

    range: Range = Range()

    def convert(self, value) -> float:
        if isinstance(value, bool) or not isinstance(value, (RealNumber, str)):
            raise _Reject
        try:
            number = float(value)
        except ValueError:
            raise _Reject from None
        if not math.isfinite(number) or number not in self.range:
            raise _Reject
        return number

    def describe(self) -> str:
        return "a number" + self.range.describe()


#: A size given in labels per class: ``"20/class"`` is 20 × the number of classes.
PER_CLASS = "/class"


@dataclass(frozen=True)
class Numeric:
    """A number in ``range``, or a string that spells one, kept as written: for sizes, where
    ``0.1`` (a fraction) and ``"1000"`` (a count) mean different things."""

    range: Range = Range()

    def convert(self, value):
        if isinstance(value, str) and value.strip().endswith(PER_CLASS) and value.strip()[: -len(PER_CLASS)].strip().isdigit():
            return value  # labels per class: the budget parser checks the count
        Real(self.range).convert(value)
        return value

    def describe(self) -> str:
        return Real(self.range).describe() + f" (or N{PER_CLASS})"


@dataclass(frozen=True)
class Choice:
    """One of a few strings."""

    values: tuple[str, ...]

    def convert(self, value) -> str:
        if not isinstance(value, str) or value not in self.values:
            raise _Reject
        return value

    def describe(self) -> str:
        return "one of " + ", ".join(self.values)


@dataclass(frozen=True)
class Text:
    """A string; a number counts as its spelling (``eval: 0.2``, a column named ``1``) and is
    kept as it is."""

    def convert(self, value):
        if isinstance(value, bool) or not isinstance(value, (str, RealNumber)):
            raise _Reject
        return value

    def describe(self) -> str:
        return "a string"


@dataclass(frozen=True)
class Flag:
    """``true`` or ``false``: not ``"yes"``, not ``1``."""

    def convert(self, value) -> bool:
        if not isinstance(value, bool):
            raise _Reject
        return value

    def describe(self) -> str:
        return "true or false"


@dataclass(frozen=True)
class Mapping:
    """A mapping with string keys (option names to values)."""

    def convert(self, value) -> dict:
        if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
            raise _Reject
        return value

    def describe(self) -> str:
        return "a mapping of option names to values"


def alternatives(constraints) -> tuple:
    """A single constraint or a tuple of them, as a tuple."""
    return constraints if isinstance(constraints, tuple) else (constraints,)


def check(name: str, value, constraints):
    """``value`` converted by the first of ``constraints`` (one, or a tuple of alternatives;
    ``None`` accepts ``None``) that accepts it.

    Raises
    ------
    ConfigError
        ``"<name> must be <what the alternatives accept>, got <value>"``.
    """
    options = alternatives(constraints)
    for constraint in options:
        if constraint is None:
            if value is None:
                return None
            continue
        try:
            return constraint.convert(value)
        except _Reject:
            continue
    wanted = " or ".join("None" if c is None else c.describe() for c in options)
    raise ConfigError(f"{name} must be {wanted}, got {value!r}")
