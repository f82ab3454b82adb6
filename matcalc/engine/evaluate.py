"""f and the claim called on the drawn inputs, through the guards (matcalc/core/guards.py), and
what they return checked: a real floating tensor, on the inputs' device, the same value twice.

Example::

    >>> import torch
    >>> from matcalc.catalog import RULES
    >>> from matcalc.core.calls import Context
    >>> from matcalc.draws.inputs import draw_inputs
    >>> rule, sizes, cpu = RULES["linear_map"], {"m": 3, "n": 5}, torch.device("cpu")
    >>> inputs = draw_inputs(rule, sizes, cpu, torch.float64, 0)
    >>> ctx = Context(rule, sizes, cpu, torch.float64)
    >>> evaluate_f(ctx, rule, inputs, 1e-13, small=True).shape, call_claim(ctx, rule, inputs).shape
    (torch.Size([3]), torch.Size([3, 5]))
"""

from __future__ import annotations

import torch

from matcalc.core.calls import Context
from matcalc.core.guards import InputChanged, isolated_call, same_values
from matcalc.core.tolerance import relative_error
from matcalc.engine.check_plan import Plan
from matcalc.errors import MatcalcError
from matcalc.model.rule import Rule


def one_forward(rule: Rule, plan: Plan, small: bool) -> bool:
    """Whether f's one evaluation should also serve the reference Jacobian. At large n, where f is
    evaluated once (no determinism re-run), the jacobian oracle would otherwise evaluate f a second
    time for its graph: one more pass over every input (x^T A x at n = 8192: 1 of ~14 passes).

    >>> from matcalc.catalog import RULES
    >>> from matcalc.engine.check_plan import Plan
    >>> one_forward(RULES["linear_map"], Plan("jacobian", "", 0, 1, (3,)), small=False)
    True
    """
    return plan.oracle == "jacobian" and rule.kind == "jacobian" and len(rule.wrt_names) == 1 \
        and not small


def forward_with_graph(ctx: Context, rule: Rule,
                       inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(f with its graph, the leaf) or None when f cannot run under autograd (``.numpy()``, an
    in-place change of x, say): the plain evaluation then runs and names the problem."""
    name = rule.wrt_names[0]
    leaf = inputs[name].detach().requires_grad_(True)  # shares x's version counter
    try:
        with torch.enable_grad():
            raw = isolated_call(ctx, "f", rule.f, {**inputs, name: leaf})
    except InputChanged:
        raise
    except MatcalcError:
        # e.g. autograd refusing an in-place change of the leaf (before making it): the plain
        # evaluation then makes the change, and its version counter names it
        return None
    if not isinstance(raw, torch.Tensor) or not raw.is_floating_point() or raw.is_complex() \
            or raw.device != leaf.device:
        return None
    return raw, leaf


def evaluate_f(ctx: Context, rule: Rule, inputs: dict[str, torch.Tensor], tol: float,
               small: bool) -> torch.Tensor:
    """f at ``inputs``, detached; on ``small`` inputs evaluated twice, and refused (MatcalcError)
    when the two values differ: f must be a function of its inputs."""
    out = _call_f(ctx, rule, inputs)
    if small:
        again = _call_f(ctx, rule, inputs)
        if not same_values(out, again, tol):
            raise MatcalcError(
                f"f gives different values on the same inputs ({ctx.where}; relative difference "
                f"{relative_error(again, out):.3g}): it is not a function of its inputs (dropout in "
                "training mode? the global RNG? state kept between calls?); make it deterministic, "
                "e.g. module.eval() or a fixed torch.Generator"
            )
    return out


def _call_f(ctx: Context, rule: Rule, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    raw = isolated_call(ctx, "f", rule.f, inputs)
    if not isinstance(raw, torch.Tensor):
        raise MatcalcError(
            f"f returned {type(raw).__name__}, not a tensor ({ctx.where}): autograd cannot "
            "differentiate a Python number (did f call .item() or math.*?); return a torch.Tensor "
            "built with torch operations"
        )
    _check_device(ctx, "f", raw, inputs)
    if raw.is_complex():
        raise MatcalcError(f"f returned a complex tensor ({ctx.where}): matcalc checks real-valued "
                           "functions; split f into its real and imaginary parts")
    if not raw.is_floating_point():
        raise MatcalcError(f"f returned a {raw.dtype} tensor ({ctx.where}): f must return floats")
    return raw.detach()


def _check_device(ctx: Context, what: str, value: torch.Tensor, inputs: dict[str, torch.Tensor]) -> None:
    device = next(iter(inputs.values())).device if inputs else value.device
    if value.device != device:
        raise MatcalcError(
            f"{what} returned a tensor on {value.device}, the inputs are on {device} ({ctx.where}): "
            "build it from the inputs (e.g. torch.zeros_like(x)) so it lands on their device"
        )


def call_claim(ctx: Context, rule: Rule, inputs: dict[str, torch.Tensor],
               extra: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
    """The claimed derivative at ``inputs`` (and a differential's directions, ``extra``), as a
    detached tensor on the inputs' device; a Python number is taken as a 0-dim tensor."""
    raw = isolated_call(ctx, "the derivative", rule.derivative, inputs, extra)
    if isinstance(raw, int | float | complex) and not isinstance(raw, bool):
        dtype = torch.complex128 if isinstance(raw, complex) else torch.float64
        device = next(iter(inputs.values())).device
        raw = torch.tensor(raw, dtype=dtype, device=device)
    if not isinstance(raw, torch.Tensor):
        raise MatcalcError(f"the derivative returned {type(raw).__name__}, not a tensor "
                           f"({ctx.where}): return a torch.Tensor")
    _check_device(ctx, "the derivative", raw, inputs)
    return raw.detach()


def outside_domain(rule: Rule, out: torch.Tensor) -> str:
    """Why f is not finite at the drawn inputs, and the domain declarations that would fix it: the
    reason of an inconclusive check.

    >>> import torch
    >>> from matcalc.catalog import RULES
    >>> outside_domain(RULES["linear_map"], torch.tensor([float("nan")]))[:40]
    'f is not finite at the drawn inputs (1 N'
    """
    nan, inf = int(torch.isnan(out).sum()), int(torch.isinf(out).sum())
    fixes = []
    for name, dom in rule.inputs.items():
        if dom.structure != "general":
            continue
        dims = ", ".join(repr(d) for d in dom.shape)
        if dom.kind == "vector":
            fixes.append(f"{name}=mc.vector({dims}, positive=True)")
        elif dom.kind == "matrix":
            square = dom.shape[0] == dom.shape[1]
            fixes.append(f"{name}=mc.matrix({dims}, structure={'spd' if square else 'positive'!r})")
        elif dom.kind == "scalar":
            fixes.append(f"{name}=mc.scalar(positive=True)")
    fix = ("; declare the domain f needs, e.g. " + " or ".join(fixes)) if fixes else \
        "; declare the domain f needs"
    if not nan:
        return (f"f is Inf at the drawn inputs ({inf} of {out.numel()} entries): it overflows float64 "
                f"at these sizes (use smaller sizes), or the inputs sit at a pole of f{fix}")
    return (f"f is not finite at the drawn inputs ({nan} NaN and {inf} Inf of {out.numel()} entries): "
            f"the inputs are outside f's domain{fix}")
