"""Why a claim is wrong: mismatch statistics, hints from its values and its shape, and hints that
re-check the claim (a correction must pass at a second draw; structured inputs; swapped inputs).

Modules: ``mismatch`` (entry by entry), ``hint`` (the Hint type and the classes hints name),
``values`` (a wrong claim of the right shape), ``shapes`` (a claim of the wrong shape),
``review`` (re-checks, run by check() after a failure).

Example::

    >>> import torch
    >>> J = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64)
    >>> value_hints(-J, J, tol=1e-12, out_shape=(2,), wrt_shape=(2,))
    ['sign flipped']
"""

from matcalc.diagnosis.hint import CLASSES, Hint, classes_of
from matcalc.diagnosis.mismatch import Mismatch, mismatch
from matcalc.diagnosis.shapes import shape_hints
from matcalc.diagnosis.values import FAR, value_hints

__all__ = ["CLASSES", "FAR", "Hint", "Mismatch", "classes_of", "mismatch", "shape_hints", "value_hints"]
