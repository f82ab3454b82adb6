"""Which rules a command runs: catalog names (with a "did you mean" for a slip), a rule from the
user's own module (``package.module:name``), or every rule of a module (``--rules package.module``).

Example::

    >>> [r.name for r in pick(["linear_map"])]
    ['linear_map']
    >>> pick(["quadratic_from"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    matcalc.errors.MatcalcError: no rule named 'quadratic_from' in the catalog; did you mean ...
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Mapping, Sequence

from matcalc.errors import MatcalcError
from matcalc.model.rule import Rule


def _catalog() -> Mapping[str, Rule]:
    from matcalc.catalog import RULES

    return RULES


def _user_path() -> None:
    # Like `python -m`: the current folder comes first, so `matcalc check mypkg.rules:x` finds mypkg.
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())


def pick(names: Sequence[str] | None, pool: Mapping[str, Rule] | None = None,
         where: str = "the catalog") -> list[Rule]:
    """The rules of ``pool`` (the catalog by default) named in ``names``; all of them when None."""
    pool = _catalog() if pool is None else pool
    if not names:
        return list(pool.values())
    for name in names:
        if name not in pool:
            close = difflib.get_close_matches(name, list(pool), n=3)
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            listing = " (`matcalc list` shows them all)" if where == "the catalog" else ""
            raise MatcalcError(f"no rule named {name!r} in {where}{hint}{listing}")
    return [pool[n] for n in names]


def one(spec: str) -> Rule:
    """A catalog name, or ``package.module:name`` for a rule of the user's own module."""
    if ":" in spec:
        from matcalc.model.discover import load_rule

        _user_path()
        return load_rule(spec)
    return pick([spec])[0]


def from_modules(modules: Sequence[str]) -> dict[str, Rule]:
    """Every rule of each module (its RULES, else its module-level Rule objects), by name."""
    from matcalc.model.discover import import_module, rules_in

    _user_path()
    out: dict[str, Rule] = {}
    for name in modules:
        for rule in rules_in(import_module(name)):
            if rule.name in out:
                raise MatcalcError(f"two rules are named {rule.name!r} in {', '.join(modules)}: "
                                   "rename one")
            out[rule.name] = rule
    return out
