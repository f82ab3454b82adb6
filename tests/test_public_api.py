"""The declared public surface: ``matcalc.__all__`` is the contract of DESIGN.md, every public
name resolves and has a reference docstring (an example first, then Args / Returns / Raises), and
every package outside the contract says in its docstring that it is internal.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import matcalc

ROOT = Path(__file__).resolve().parents[1]
DESIGN = ROOT.parent / "shared" / "DESIGN.md"  # beside the repository; absent in some checkouts
PUBLIC_MODULES = ("matcalc", "matcalc.catalog", "matcalc.testing", "matcalc.errors")
# The contract shows the results (`res.passed, res.error, ...`) without naming their classes;
# matcalc exports them so that users can annotate with them.
RESULT_CLASSES = {"Result", "BackwardResult"}
# Reference docstrings still being written, each an expected failure until it lands; then delete
# the entry. None is pending.
PENDING_DOCSTRINGS: set[str] = set()
# Packages whose __init__ docstring is another helper's to change: add the line
# "Internal: not part of the public contract." there, then delete the entry.
PENDING_INTERNAL: set[str] = set()
INTERNAL = "Internal: not part of the public contract"
SECTION = re.compile(r"^(Args|Returns|Raises|Attributes):[ \t]*$", re.M)


def contract_names(design: str) -> tuple[set[str], set[str]]:
    """The ``mc.NAME`` mentions of the "Public API contract" section: those it promises now, and
    those only its "Extensions under way" paragraph names (they may be exported, not yet must).

    >>> now, later = contract_names("## Public API contract\\nmc.check(...)\\n**Extensions under way** "
    ...                             "mc.tensor\\n**The catalog.** mc.catalog\\n## Tolerances\\nmc.other")
    >>> sorted(now), sorted(later)
    (['catalog', 'check'], ['tensor'])
    """
    start = design.index("## Public API contract")
    end = design.find("\n## ", start + 1)
    section = design[start:] if end < 0 else design[start:end]
    later_at = section.find("**Extensions under way**")
    later_end = section.find("\n**", later_at + 1) if later_at >= 0 else -1
    later_text = "" if later_at < 0 else section[later_at:] if later_end < 0 else section[later_at:later_end]
    now_text = section.replace(later_text, "") if later_text else section
    mention = re.compile(r"\bmc\.([A-Za-z_]\w*)")
    now = set(mention.findall(now_text))
    return now, set(mention.findall(later_text)) - now


def test_all_is_the_contract() -> None:
    if not DESIGN.is_file():
        pytest.skip(f"no {DESIGN} in this checkout: the contract to compare with is not here")
    now, later = contract_names(DESIGN.read_text())
    exported = set(matcalc.__all__)
    assert len(matcalc.__all__) == len(exported), "a name is listed twice in matcalc.__all__"
    expected = now | RESULT_CLASSES
    missing, extra = expected - exported, exported - expected - later
    assert not missing and not extra, (f"matcalc.__all__ differs from the contract in {DESIGN}: "
                                       f"missing {sorted(missing)}, not in the contract {sorted(extra)}")


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_public_name_resolves(module_name: str) -> None:
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None)
    assert names, f"{module_name} declares no __all__"
    assert len(names) == len(set(names)), f"a name is listed twice in {module_name}.__all__"
    for name in names:
        assert getattr(module, name, None) is not None, f"{module_name}.{name} is in __all__ but not there"
    assert sorted(set(dir(module)) & set(names)) == sorted(names)


def _public_callables() -> dict[str, Any]:
    found: dict[str, Any] = {}
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            value = getattr(module, name)
            if inspect.isclass(value) or inspect.isfunction(value):
                found.setdefault(name, value)  # matcalc.MatcalcError is matcalc.errors.MatcalcError
    return found


def _section(doc: str, title: str) -> str | None:
    """The body of a Google-style section (``Args:`` ... up to the next section), or None."""
    match = re.search(rf"^{title}:[ \t]*$", doc, re.M)
    if match is None:
        return None
    following = SECTION.search(doc, match.end())
    return doc[match.end(): following.start() if following else len(doc)]


def _parameters(obj: Any) -> list[str]:
    """What a caller passes: a function's parameters, a dataclass's own fields, or the parameters of
    an ``__init__`` the class defines itself (an exception that keeps ValueError's takes none)."""
    if inspect.isclass(obj):
        if dataclasses.is_dataclass(obj):
            own = inspect.get_annotations(obj)
            return [f.name for f in dataclasses.fields(obj) if f.init and f.name in own]
        if "__init__" not in obj.__dict__:
            return []
        obj = obj.__init__
    return [p for p in inspect.signature(obj).parameters if p not in ("self", "cls")]


def docstring_problems(obj: Any) -> list[str]:
    """What a public function or class's docstring lacks, in words (empty when it is complete).

    >>> def bare(x):
    ...     '''Does a thing.'''
    >>> docstring_problems(bare)
    ['no example (>>>)', 'no Args section', "Args does not name 'x'", 'no Returns section', 'no Raises section']
    """
    doc = inspect.getdoc(obj) or ""
    problems = []
    example = doc.find(">>>")
    first_section = SECTION.search(doc)
    if example < 0:
        problems.append("no example (>>>)")
    elif first_section is not None and first_section.start() < example:
        problems.append(f"the example comes after the {first_section.group(1)} section")
    params = _parameters(obj)
    if not params:
        return problems
    attributes = _section(doc, "Attributes")
    if inspect.isclass(obj) and attributes is not None:  # a class users read, not build
        return problems + [f"Attributes does not name {p!r}" for p in params
                           if not re.search(rf"^\s+\**{p}\b", attributes, re.M)]
    args = _section(doc, "Args")
    if args is None:
        problems.append("no Args section")
    problems += [f"Args does not name {p!r}" for p in params
                 if args is None or not re.search(rf"^\s+\**{p}\b", args, re.M)]
    if not inspect.isclass(obj) and _section(doc, "Returns") is None:
        problems.append("no Returns section")
    if _section(doc, "Raises") is None:
        problems.append("no Raises section")
    return problems


def _pending(names: set[str], reason: str) -> Callable[[str], Any]:
    def param(name: str) -> Any:
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if name in names else []
        return pytest.param(name, marks=marks, id=name)
    return param


@pytest.mark.parametrize("name", [
    _pending(PENDING_DOCSTRINGS, "the lead writes this reference docstring; then remove it from "
                                 "PENDING_DOCSTRINGS")(n) for n in sorted(_public_callables())])
def test_public_docstrings_are_references(name: str) -> None:
    obj = _public_callables()[name]
    problems = docstring_problems(obj)
    assert not problems, f"{obj.__module__}.{obj.__qualname__}: " + "; ".join(problems)


def _packages() -> list[str]:
    return sorted(p.parent.name for p in (ROOT / "matcalc").glob("*/__init__.py"))


@pytest.mark.parametrize("package", [
    _pending(PENDING_INTERNAL, "its __init__ is another helper's file; once its docstring says it "
                               "is internal, remove it from PENDING_INTERNAL")(p)
    for p in _packages() if f"matcalc.{p}" not in PUBLIC_MODULES])
def test_packages_outside_the_contract_say_they_are_internal(package: str) -> None:
    doc = importlib.import_module(f"matcalc.{package}").__doc__ or ""
    assert INTERNAL in " ".join(doc.split()), (
        f"matcalc/{package}/__init__.py: its docstring should say {INTERNAL!r} (it is not one of "
        f"{', '.join(PUBLIC_MODULES)})")


def test_top_level_modules_are_public_or_private_by_name() -> None:
    # A new top-level module is either part of the contract or named with a leading underscore.
    names = {p.stem for p in (ROOT / "matcalc").glob("*.py")} - {"__init__", "__main__"}
    loose = sorted(n for n in names if f"matcalc.{n}" not in PUBLIC_MODULES and not n.startswith("_"))
    assert not loose, f"matcalc/{loose[0]}.py is neither in the contract nor private by name"
