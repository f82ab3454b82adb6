"""matcalc: matrix-calculus identities as rule objects, verified against PyTorch autograd.

Example::

    >>> import torch, matcalc as mc
    >>> rule = mc.Rule(
    ...     name="quadratic_form",
    ...     f=lambda x, A: x @ A @ x,
    ...     derivative=lambda x, A: x @ (A.T + A),
    ...     wrt="x",
    ...     inputs={"x": mc.vector("n"), "A": mc.matrix("n", "n")},
    ... )
    >>> mc.check(rule, dtype=torch.float64, sizes={"n": 64}, seed=0).passed
    True

The public names are imported on first use, so that ``import matcalc.cli`` (the ``matcalc``
command) starts without importing torch and can answer Ctrl-C during that import with one line.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matcalc import catalog
    from matcalc.backward import BackwardResult, check_backward
    from matcalc.check import check
    from matcalc.claims import claim
    from matcalc.domains import matrix, scalar, vector
    from matcalc.errors import MatcalcError
    from matcalc.result import Result
    from matcalc.rule import Rule

__all__ = [
    "BackwardResult", "MatcalcError", "Result", "Rule", "catalog", "check", "check_backward", "claim",
    "matrix", "scalar", "vector",
]
__version__ = "0.1.0"

_HOMES = {
    "MatcalcError": "matcalc.errors", "Result": "matcalc.result", "Rule": "matcalc.rule",
    "catalog": "matcalc.catalog", "check": "matcalc.check", "matrix": "matcalc.domains",
    "scalar": "matcalc.domains", "vector": "matcalc.domains", "claim": "matcalc.claims",
    "check_backward": "matcalc.backward", "BackwardResult": "matcalc.backward",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'matcalc' has no attribute {name!r}")
    module = importlib.import_module(home)
    value = module if name == "catalog" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    def __setattr__(self, name: str, value: object) -> None:
        # Importing the submodule matcalc.check sets the attribute "check" to that module; the
        # public name mc.check is the function.
        if name == "check" and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
