"""A hint: its text (a ``str``, so ``Result.hints`` stays a list of strings), the mistake classes it
names, and, where a hint claims a correction, the corrected rule that must pass for the hint to be
given (see matcalc/diagnosis/review.py).

Example::

    >>> h = Hint("off by a factor of 2", {"factor"})
    >>> h, sorted(h.kinds), h.fix is None
    ('off by a factor of 2', ['factor'], True)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from matcalc.model.rule import Rule

# The mistake classes a hint can name (the diagnosis benchmark scores hints by them).
CLASSES: tuple[str, ...] = (
    "transpose", "factor", "sign", "swap", "symmetric", "diagonal", "entries", "layout",
    "diag_vector", "reshape", "kink", "scale",
)


class Hint(str):
    """A hint's text with ``kinds`` (the classes it names; ``symmetric:A`` names an input), an
    optional ``fix`` (rule -> the rule with the claim corrected as the hint says) and ``value``
    (the factor a factor hint found)."""

    kinds: frozenset[str]
    fix: Callable[[Rule], Rule] | None
    value: float | None

    def __new__(cls, text: str, kinds: Iterable[str] = (),
                fix: Callable[[Rule], Rule] | None = None, value: float | None = None) -> Hint:
        self = super().__new__(cls, text)
        self.kinds = frozenset(kinds)
        self.fix = fix
        self.value = value  # the factor of a factor hint
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        # A fix holds closures; a pickled or copied hint is its text.
        return (str, (str(self),))


def classes_of(hint: str) -> frozenset[str]:
    """The classes a hint names: its ``kinds``, or, for a plain string, none.

    >>> sorted(classes_of(Hint("holds when A is symmetric", {"symmetric:A"})))
    ['symmetric:A']
    >>> classes_of("a plain hint")
    frozenset()
    """
    return hint.kinds if isinstance(hint, Hint) else frozenset()
