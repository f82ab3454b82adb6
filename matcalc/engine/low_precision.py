"""A low-precision check's second figure: the formula is decided in float64, and how accurately
the claim then evaluates in the check's own dtype is reported beside, next to autograd in it.

Example::

    >>> import torch, matcalc as mc
    >>> from matcalc.catalog import RULES
    >>> sorted(mc.check(RULES["quadratic_form"], dtype=torch.float32).low_precision)
    ['autograd', 'claim']
"""

from __future__ import annotations

import torch

from matcalc.core.calls import Context
from matcalc.core.tolerance import relative_error, tolerance
from matcalc.draws.inputs import cast_inputs
from matcalc.engine.evaluate import call_claim
from matcalc.engine.run import Run
from matcalc.errors import MatcalcError
from matcalc.model.rule import to_numerator
from matcalc.oracles.jacobian import reference_hessian, reference_jacobian


def low_precision(run: Run, ctx: Context) -> dict[str, float] | None:
    """How accurately the claim evaluates in ``run.dt``, next to autograd in it (relative errors
    against the float64 truth); a hint is added when the claim is far the worse. None for a
    differential or an unmaterialized truth."""
    m, rule = run.measurement, run.rule
    if m is None or not m.materialized or rule.kind == "differential":
        return None
    low = cast_inputs(rule, run.inputs, run.dt)
    name = rule.wrt_names[0]
    hessian = rule.kind == "hessian"
    out_shape = tuple(m.true.shape[: m.true.ndim - low[name].ndim])
    try:
        claim_low = to_numerator(rule, call_claim(ctx, rule, low), out_shape, tuple(low[name].shape))
    except MatcalcError:
        return None
    report = {"claim": relative_error(claim_low, m.true, floor=m.floor)}

    def fn(w: torch.Tensor) -> torch.Tensor:
        value = rule.f(**{**low, name: w})
        return value.reshape(()) if hessian else value

    try:
        auto_low = (reference_hessian if hessian else reference_jacobian)(fn, low[name]).detach()
        report["autograd"] = relative_error(auto_low, m.true, floor=m.floor)
    except Exception:  # an op without a kernel in this dtype: the claim's figure stands alone
        pass
    bound = 10 * max(report.get("autograd", 0.0), tolerance(run.dt, max(run.sizes.values(), default=1)))
    if report["claim"] > bound:
        run.hints.append(
            f"the formula is right (decided in float64), but evaluated in "
            f"{str(run.dt).removeprefix('torch.')} its relative error is {report['claim']:.3g}"
            + (f", against {report['autograd']:.3g} for autograd" if "autograd" in report else ""))
    return report
