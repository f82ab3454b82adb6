"""The catalog: every rule by name, grouped by source.

``matcalc.catalog`` is both a module and a read-only mapping from rule names to rules::

    >>> import matcalc as mc
    >>> from matcalc.catalog import quadratic_form
    >>> mc.catalog["quadratic_form"] is quadratic_form
    True

Rules live one source per file (seed.py, course.py, cookbook_*.py, hessians.py, deep_learning.py,
errata.py); each file's ``RULES`` tuple is all the registry needs, so adding an identity touches
one file.

Public: part of the contract are the mapping and the rules by name (``__all__``). The helpers
here (``RULES``, ``group_of``, ``SOURCES``) and the per-source modules are internal: they serve the
`matcalc` command and the report, and may change.
"""

from __future__ import annotations

import keyword
import sys
import types
from collections.abc import Iterator, Mapping

from matcalc.catalog import (
    cookbook_derivatives,
    cookbook_differentials,
    cookbook_forms,
    cookbook_structured,
    cookbook_traces,
    course,
    deep_learning,
    errata,
    hessians,
    seed,
)
from matcalc.errors import MatcalcError
from matcalc.model.rule import Rule

SOURCES: tuple[types.ModuleType, ...] = (
    seed, course, cookbook_differentials, cookbook_derivatives, cookbook_forms, cookbook_traces,
    cookbook_structured, hessians, deep_learning, errata,
)


_GROUPS: dict[str, str] = {}


def check_catalog_name(name: str, where: str) -> None:
    """Catalog rules are importable (``from matcalc.catalog import NAME``), so their names must be
    identifiers; users' own rules may be named in words.

    >>> check_catalog_name("quadratic_form", "matcalc.catalog.seed")
    >>> check_catalog_name("d tr(X)/dX", "matcalc.catalog.seed")
    Traceback (most recent call last):
    ...
    matcalc.errors.MatcalcError: catalog rule 'd tr(X)/dX' in matcalc.catalog.seed must be named by a Python identifier (e.g. 'trace_X'), so that `from matcalc.catalog import NAME` works
    """
    if not name.isidentifier() or keyword.iskeyword(name):
        raise MatcalcError(
            f"catalog rule {name!r} in {where} must be named by a Python identifier (e.g. 'trace_X'), "
            "so that `from matcalc.catalog import NAME` works"
        )


def _collect() -> dict[str, Rule]:
    rules: dict[str, Rule] = {}
    for module in SOURCES:
        for rule in module.RULES:
            check_catalog_name(rule.name, module.__name__)
            if rule.name in rules:
                raise MatcalcError(f"duplicate rule name {rule.name!r} in {module.__name__}")
            rules[rule.name] = rule
            _GROUPS[rule.name] = module.GROUP
    for rule in rules.values():
        if rule.refuted and rule.correct and rule.correct not in rules:
            raise MatcalcError(f"erratum {rule.name!r} names correct={rule.correct!r}, not in "
                               "the catalog")
    return rules


RULES: dict[str, Rule] = _collect()
__all__ = list(RULES)  # the contract: every rule by name, `from matcalc.catalog import NAME`


def group_of(rule: Rule) -> str:
    """The listing group: the catalog file's source family, and the section within it."""
    family = _GROUPS.get(rule.name, "user") if RULES.get(rule.name) is rule else "user"
    if rule.section and rule.section != family:
        return f"{family} / {rule.section}"
    return family


class _CatalogModule(types.ModuleType, Mapping[str, Rule]):
    # A module must stay hashable (import machinery and tools keep modules in sets), so identity
    # equality is kept rather than Mapping's value equality.
    __hash__ = types.ModuleType.__hash__
    __eq__ = types.ModuleType.__eq__
    def __getitem__(self, name: str) -> Rule:
        try:
            return RULES[name]
        except KeyError:
            raise KeyError(f"no rule {name!r} in the catalog; `matcalc list` shows them") from None

    def __iter__(self) -> Iterator[str]:
        return iter(RULES)

    def __len__(self) -> int:
        return len(RULES)

    def __getattr__(self, name: str) -> Rule:
        if name in RULES:
            return RULES[name]
        raise AttributeError(f"module 'matcalc.catalog' has no rule or attribute {name!r}")

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(RULES))

    def __repr__(self) -> str:
        return f"<matcalc.catalog: {len(RULES)} rules>"


sys.modules[__name__].__class__ = _CatalogModule
