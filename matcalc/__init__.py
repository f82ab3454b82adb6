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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matcalc import catalog
    from matcalc.backward import BackwardResult, check_backward
    from matcalc.claims import claim
    from matcalc.core.result import Result
    from matcalc.engine.check import check
    from matcalc.errors import MatcalcError
    from matcalc.model.domains import matrix, scalar, vector
    from matcalc.model.rule import Rule

__all__ = [
    "BackwardResult", "MatcalcError", "Result", "Rule", "catalog", "check", "check_backward", "claim",
    "matrix", "scalar", "vector",
]
__version__ = "0.1.0"

_HOMES = {
    "MatcalcError": "matcalc.errors", "Result": "matcalc.core.result", "Rule": "matcalc.model.rule",
    "catalog": "matcalc.catalog", "check": "matcalc.engine.check", "matrix": "matcalc.model.domains",
    "scalar": "matcalc.model.domains", "vector": "matcalc.model.domains", "claim": "matcalc.claims",
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
