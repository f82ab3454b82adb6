"""Guards around the user's callables: each sees its own copy of the inputs, must leave them
unchanged, and must give the same value twice.

Example::

    >>> import torch
    >>> same_values(torch.ones(3), torch.ones(3), 1e-12)
    True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from matcalc.context import Context
from matcalc.errors import MatcalcError
from matcalc.tolerance import relative_error

# Up to this many bytes of inputs, every call gets fresh copies, the copies are compared with the
# originals afterwards, and f and the claim are evaluated twice (non-determinism). Beyond it, at
# large n, copies would cost more passes over memory than the check itself: in-place changes are
# then caught by the tensors' version counters, and determinism by the oracle's own re-evaluation.
SMALL_BYTES = 64 * 2**20


def nbytes(inputs: Mapping[str, torch.Tensor]) -> int:
    return sum(t.numel() * t.element_size() for t in inputs.values())


def isolated_call(ctx: Context, what: str, fn: Callable[..., Any], inputs: Mapping[str, torch.Tensor],
                  extra: Mapping[str, torch.Tensor] | None = None) -> Any:
    """``fn(**inputs, **extra)`` on private copies, its return value as it is; MatcalcError if it
    changed any of them."""
    small = nbytes(inputs) <= SMALL_BYTES
    given = {k: v.clone() for k, v in inputs.items()} if small else dict(inputs)
    versions = {k: v._version for k, v in given.items()}
    value = ctx.call_raw(what, fn, **given, **(extra or {}))
    for name, tensor in given.items():
        if tensor._version != versions[name] or (small and not torch.equal(tensor, inputs[name])):
            raise MatcalcError(
                f"{what} changed its input {name!r} in place ({ctx.where}): a rule's functions must "
                f"not modify their inputs; use out-of-place ops ({name} * 2, not {name}.mul_(2))"
            )
    return value


def assert_unchanged(ctx: Context, what: str, inputs: Mapping[str, torch.Tensor],
                     versions: Mapping[str, int]) -> None:
    for name, tensor in inputs.items():
        if tensor._version != versions[name]:
            raise MatcalcError(
                f"{what} changed input {name!r} in place while the oracle ran ({ctx.where}): use "
                "out-of-place ops"
            )


def same_values(a: torch.Tensor, b: torch.Tensor, tol: float) -> bool:
    """Equal up to rounding (``tol`` relative); NaN in the same places counts as equal."""
    if a.shape != b.shape:
        return False
    if torch.equal(torch.nan_to_num(a), torch.nan_to_num(b)):
        return True
    return relative_error(a, b) <= tol
