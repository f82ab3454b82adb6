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
"""

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
