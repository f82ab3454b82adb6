"""Verify a hand-written backward: ``check_backward`` (the check), ``run`` (calling fn), ``truth``
(reference autograd and finite differences), ``judge`` (errors and the low-precision policy),
``bugs`` (the classic-bug probes) and ``diagnose`` (why a gradient is wrong)."""

from matcalc.backward.checker import BackwardResult, check_backward

__all__ = ["BackwardResult", "check_backward"]
