"""Pictures of what is wrong: the claim, the truth and their difference as heat maps on one colour
scale, and for the Taylor oracle the remainder against the step h on log-log axes.

Example::

    >>> import matcalc as mc, tempfile, os
    >>> rule = mc.claim("A @ x", wrt="x", derivative="A.T", layout="denominator")
    >>> res = mc.check(rule, seed=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "claim.png")
    >>> plot_check(rule, res, path) == path
    True

matplotlib is an optional extra (``pip install 'matcalc[plot]'``); :func:`require_plotting` and
:func:`check_plot_path` let a command fail before any work when it or the target folder is missing.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import torch

from matcalc.core.result import Result
from matcalc.draws.inputs import draw_inputs
from matcalc.errors import MatcalcError
from matcalc.model.rule import Rule, to_numerator

INSTALL_HINT = "pip install 'matcalc[plot]'"
STEPS = tuple(10.0 ** (-e / 2) for e in range(0, 15))  # h from 1 down to 1e-7


def require_plotting() -> Any:
    """matplotlib's pyplot on the Agg backend, or a MatcalcError with the install hint.

    >>> require_plotting().__name__
    'matplotlib.pyplot'
    """
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise MatcalcError(f"--plot needs matplotlib: {INSTALL_HINT}") from exc
    return plt


def check_plot_path(path: str | os.PathLike[str]) -> Path:
    """``path`` as a Path, after checking that it names a PNG in a writable folder.

    >>> check_plot_path("/no/such/folder/x.png")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    matcalc.errors.MatcalcError: cannot write the plot ...: folder /no/such/folder does not exist
    """
    out = Path(path)
    if out.suffix.lower() != ".png":
        raise MatcalcError(f"the plot is a PNG: name it with .png, e.g. {out.with_suffix('.png')}")
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir():
        raise MatcalcError(f"cannot write the plot {out}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise MatcalcError(f"cannot write the plot {out}: {folder} is not writable")
    return out


def _as_matrix(t: torch.Tensor, out_shape: tuple[int, ...]) -> torch.Tensor:
    if t.ndim == 2:
        return t
    if t.ndim < 2:
        return t.reshape(1, -1)
    rows = max(math.prod(out_shape), 1)
    return t.reshape(rows, -1) if t.numel() % rows == 0 else t.reshape(1, -1)


def derivative_pair(rule: Rule, result: Result) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """The claim (numerator layout) and the autograd truth, in float64 on the CPU, at the inputs
    the check drew (its counterexample when it failed)."""
    if result.counterexample:
        inputs = dict(result.counterexample)
    else:
        inputs = draw_inputs(rule, result.sizes, torch.device(result.device),
                             getattr(torch, result.dtype), result.seed)
    inputs = {k: v.detach().cpu().to(torch.float64) for k, v in inputs.items()}
    name = rule.wrt_names[0]

    def fn(w: torch.Tensor) -> torch.Tensor:
        return rule.f(**{**inputs, name: w})

    x = inputs[name]
    out = fn(x).detach()
    if rule.kind == "hessian":
        true = torch.autograd.functional.hessian(lambda w: fn(w).reshape(()), x)
        out_shape = tuple(x.shape)
    else:
        true = torch.autograd.functional.jacobian(fn, x)
        out_shape = tuple(out.shape)
    raw = rule.derivative(**inputs).detach().to(torch.float64)
    claim = to_numerator(rule, raw, out_shape, tuple(x.shape)) if rule.kind == "jacobian" else raw
    return claim, true.detach(), inputs


def taylor_remainders(rule: Rule, claim: torch.Tensor, inputs: dict[str, torch.Tensor],
                      seed: int = 0) -> tuple[list[float], list[float]]:
    """Steps h and first-order remainders |f(x + h v) - f(x) - h D v| along one random direction v
    of norm |x| (at least 1), in float64. A right D makes them fall like h^2; a wrong one like h."""
    name = rule.wrt_names[0]
    x = inputs[name]
    gen = torch.Generator().manual_seed(seed + 7)
    v = torch.randn(x.shape, generator=gen, dtype=torch.float64)
    v = v * max(float(torch.linalg.vector_norm(x)), 1.0) / float(torch.linalg.vector_norm(v))

    def f(w: torch.Tensor) -> torch.Tensor:
        return rule.f(**{**inputs, name: w}).detach()

    f0 = f(x)
    dv = (claim.reshape(-1, v.numel()) @ v.reshape(-1)).reshape(f0.shape)
    steps, rems = [], []
    for h in STEPS:
        r = float(torch.linalg.vector_norm(f(x + h * v) - f0 - h * dv))
        if r > 0 and math.isfinite(r):
            steps.append(h)
            rems.append(r)
    return steps, rems


def plot_check(rule: Rule, result: Result, path: str | os.PathLike[str], *,
               taylor: bool | None = None) -> str:
    """Write one PNG for a check of ``rule`` that gave ``result``: heat maps of the claim, the
    truth and claim - truth on one symmetric colour scale, and (``taylor``, by default when the
    check used the Taylor oracle) the remainder against h with reference slopes 1 and 2. Returns
    the path written."""
    plt = require_plotting()
    out = check_plot_path(path)
    claim, true, inputs = derivative_pair(rule, result)
    if taylor is None:
        taylor = result.oracle == "taylor"
    taylor = taylor and rule.kind == "jacobian" and claim.shape == true.shape
    out_shape = tuple(true.shape[: true.ndim - inputs[rule.wrt_names[0]].ndim])
    c2, t2 = _as_matrix(claim, out_shape), _as_matrix(true, out_shape)
    same = c2.shape == t2.shape
    panels = [("claim", c2), ("truth (autograd)", t2)]
    if same:
        panels.append(("claim - truth", c2 - t2))
    scale = max(float(p.abs().max()) for _, p in panels if p.numel()) or 1.0
    ncols = len(panels) + int(taylor)
    fig, axes = plt.subplots(1, ncols, figsize=(4.2 * ncols, 4.0), squeeze=False,
                             layout="constrained")
    image = None
    for ax, (title, data) in zip(axes[0], panels, strict=False):
        image = ax.imshow(data.numpy(), cmap="RdBu_r", vmin=-scale, vmax=scale,
                          interpolation="nearest", aspect="auto" if min(data.shape) == 1 else "equal")
        ax.set_title(f"{title}  {tuple(data.shape)}", fontsize=10)
        w = rule.wrt_names[0]
        matrix_grad = not out_shape and inputs[w].ndim == 2
        ax.set_xlabel(f"column j of {w}" if matrix_grad else f"d {w}[j]")
        ax.set_ylabel(f"row i of {w}" if matrix_grad else "f[i]" if out_shape else "")
        if data.shape[0] == 1:
            ax.set_yticks([])
    if not same:
        axes[0][1].annotate(f"shapes differ: claim {tuple(claim.shape)}, truth {tuple(true.shape)}",
                            (0.5, -0.25), xycoords="axes fraction", ha="center", fontsize=9, color="red")
    if image is not None:
        fig.colorbar(image, ax=list(axes[0][: len(panels)]), shrink=0.8)
    if taylor:
        ax = axes[0][-1]
        steps, rems = taylor_remainders(rule, claim, inputs, result.seed)
        ax.loglog(steps, rems, "o-", label="remainder")
        if steps:
            mid = len(steps) // 2
            h0, r0 = steps[mid], rems[mid]
            for slope, style in ((1, ":"), (2, "--")):
                ax.loglog(steps, [r0 * (h / h0) ** slope for h in steps], style, color="gray",
                          label=f"slope {slope}")
        ax.set_xlabel("step h")
        ax.set_ylabel("|f(x+hv) - f(x) - h Dv|")
        ax.set_title("Taylor remainder (slope 2: right)", fontsize=10)
        ax.legend(fontsize=8)
        ax.grid(True, which="both", alpha=0.3)
    verdict = result.outcome.upper()
    fig.suptitle(f"{verdict} {rule.name}: relative error {result.error:.3g}", fontsize=11)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return str(path)
