"""Verify a hand-written backward: ``checker`` (the check), ``fn_calls`` (calling fn),
``truth`` (reference autograd and finite differences), ``judge`` (the truths as measurements, and
the low-precision policy), ``bug_probes`` (the classic-bug probes), ``gradient_hints`` (why a
gradient is wrong) and ``result`` (BackwardResult).

Internal: not part of the public contract, except ``check_backward`` and ``BackwardResult``,
which ``matcalc`` exports."""

from matcalc.backward.checker import check_backward
from matcalc.backward.result import BackwardResult

__all__ = ["BackwardResult", "check_backward"]
