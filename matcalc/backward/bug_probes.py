"""The classic-bug probes: the same inputs in other memory layouts, stride-0 broadcast views, a
non-unit grad_output, and a second backward call.

Each variant keeps what the check already knows where it can: a non-contiguous view holds the
same values, so the truth is the one already computed and the probe costs one forward-plus-
backward of fn and nothing more.

Example::

    >>> import torch
    >>> x = {"A": torch.randn(3, 4), "b": torch.randn(4)}
    >>> v = non_contiguous(x)
    >>> v["A"].is_contiguous(), v["b"].is_contiguous(), torch.equal(v["A"], x["A"])
    (False, False, True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch


def non_contiguous(inputs: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The same values as views that are not contiguous: matrices (and higher) transposed in
    memory (column-major, as a ``.mT`` of a contiguous tensor is), vectors with stride 2."""
    out = {}
    for name, x in inputs.items():
        if x.ndim >= 2 and x.shape[-1] > 1 and x.shape[-2] > 1:
            out[name] = x.detach().mT.contiguous().mT
        elif x.ndim >= 1 and x.numel() > 1:
            buf = torch.zeros((*x.shape[:-1], 2 * x.shape[-1]), dtype=x.dtype, device=x.device)
            view = buf[..., ::2]
            view.copy_(x.detach())
            out[name] = view
        else:
            out[name] = x
    return out


def broadcastable(inputs: Mapping[str, torch.Tensor], wrt: Sequence[str]) -> list[str]:
    """Vector inputs whose length is a dim of a matrix input (a bias, a gain): fn broadcasts them."""
    widths = {s for x in inputs.values() if x.ndim >= 2 for s in x.shape}
    return [n for n in wrt if inputs[n].ndim == 1 and inputs[n].numel() > 1 and inputs[n].shape[0] in widths]


def stride0(inputs: Mapping[str, torch.Tensor], names: Sequence[str]) -> dict[str, torch.Tensor]:
    """``names`` replaced by stride-0 views (one value expanded: x[:1].expand_as(x)), the way a
    broadcast tensor reaches a kernel; values change, so this variant needs its own truth."""
    return {n: (x.detach()[:1].expand_as(x) if n in names else x) for n, x in inputs.items()}


def grad_output(shape: torch.Size, gen: torch.Generator, dtype: torch.dtype,
                device: torch.device) -> torch.Tensor:
    """A non-unit grad_output: N(0, 1) entries (never all ones), so a backward that ignores it fails.
    Drawn in float32 below float64 (half the bytes of a float64 draw; then rounded to ``dtype``)."""
    draw = torch.float64 if dtype == torch.float64 else torch.float32
    return torch.randn(tuple(shape), generator=gen, dtype=draw, device=device).to(dtype)
