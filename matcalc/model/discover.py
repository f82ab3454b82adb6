"""Finding rules in a user's own module: a ``RULES`` tuple if it has one, else its Rule objects.

Example::

    >>> import matcalc.catalog.seed as seed
    >>> [r.name for r in rules_in(seed)][:2]
    ['linear_map', 'quadratic_form']
"""

from __future__ import annotations

import importlib
import types
from collections.abc import Iterable

from matcalc.errors import MatcalcError
from matcalc.model.rule import Rule


def rules_in(source: types.ModuleType | Iterable[Rule]) -> list[Rule]:
    """The rules a module holds (its ``RULES`` if present, else every module-level Rule, in order),
    or the rules of an iterable.

    >>> import matcalc as mc
    >>> rule = mc.Rule(name="d(x.x)/dx = 2x", f=lambda x: x @ x, derivative=lambda x: 2 * x,
    ...                wrt="x", inputs={"x": mc.vector("n")})
    >>> [r.name for r in rules_in([rule])]
    ['d(x.x)/dx = 2x']
    """
    where = f"module {source.__name__!r}" if isinstance(source, types.ModuleType) else "the rules given"
    if isinstance(source, types.ModuleType):
        found = getattr(source, "RULES", None)
        if found is None:
            found = [v for k, v in vars(source).items() if isinstance(v, Rule) and not k.startswith("_")]
        elif isinstance(found, dict):
            found = list(found.values())
    else:
        found = source
    rules = list(found)
    bad = [r for r in rules if not isinstance(r, Rule)]
    if bad:
        raise MatcalcError(f"{where}: {bad[0]!r} is not a matcalc.Rule; RULES must hold only Rule objects")
    if not rules:
        raise MatcalcError(f"{where} holds no matcalc.Rule: define rules at module level or in a "
                           "RULES tuple")
    return rules


def import_module(name: str) -> types.ModuleType:
    """Import a user's module by dotted name; a failure is a MatcalcError that names the fix.

    >>> import_module("matcalc.catalog.seed").GROUP
    'seed'
    """
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        raise MatcalcError(
            f"cannot import {name!r} ({exc}): run matcalc from the folder that holds it, or add that "
            "folder to PYTHONPATH"
        ) from exc
    except Exception as exc:
        raise MatcalcError(f"importing {name!r} raised {type(exc).__name__}: {exc}") from exc


def load_rule(spec: str) -> Rule:
    """``"package.module:name"`` -> the Rule bound to that module attribute, or else the rule of
    that name among the module's rules (``rules_in``).

    >>> load_rule("matcalc.catalog.seed:linear_map").name
    'linear_map'
    """
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise MatcalcError(f"{spec!r} is not of the form package.module:rule_variable")
    module = import_module(module_name)
    value = getattr(module, attr, None)
    if isinstance(value, Rule):
        return value
    try:
        held = rules_in(module)
    except MatcalcError:
        held = []
    by_name = {r.name: r for r in held}
    if attr in by_name:
        return by_name[attr]
    import difflib

    names = list(dict.fromkeys([k for k, v in vars(module).items() if isinstance(v, Rule)] + list(by_name)))
    close = difflib.get_close_matches(attr, names, n=1)
    hint = f"; did you mean {module_name}:{close[0]}?" if close else \
        (f"; it has {', '.join(names[:5])}" if names else "")
    what = "no rule" if value is None else f"a {type(value).__name__}, not a matcalc.Rule, as"
    raise MatcalcError(f"module {module_name!r} has {what} {attr!r}{hint}")
