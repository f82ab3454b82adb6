"""Verify a hand-written backward: ``checker`` (the check), ``fn_calls`` (calling fn),
``truth`` (reference autograd, and fn's forward for the finite-difference engine of
matcalc/oracles/fd.py), ``judge`` (the truths as measurements for matcalc/engine/verdict.py; the
tolerance policy is matcalc/core/tolerance.py's), ``bug_probes`` (the classic-bug probes),
``gradient_hints`` (why a gradient is wrong) and ``result`` (BackwardResult, rendered by Result).
The settings, the validation and the memory guard are matcalc/engine/settings.py's.

Internal: not part of the public contract, except ``check_backward`` and ``BackwardResult``,
which ``matcalc`` exports."""

from matcalc.backward.checker import check_backward
from matcalc.backward.result import BackwardResult

__all__ = ["BackwardResult", "check_backward"]
