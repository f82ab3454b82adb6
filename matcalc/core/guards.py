"""Guards around the user's callables: each sees its own copy of the inputs, must leave them
unchanged, and must give the same value twice.

Example::

    >>> import torch
    >>> same_values(torch.ones(3), torch.ones(3), 1e-12)
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import torch

from matcalc.core.calls import Context
from matcalc.core.tolerance import relative_error
from matcalc.errors import MatcalcError

# Up to this many bytes of inputs, every call gets fresh copies, the copies are compared with the
# originals afterwards, and f and the claim are evaluated twice (non-determinism). Beyond it, at
# large n, copies would cost more passes over memory than the check itself: in-place changes are
# then caught by the tensors' version counters, and determinism by the oracle's own re-evaluation.
SMALL_BYTES = 64 * 2**20
# On the large path, each input up to this size still gets a private copy (x at n = 8192 is
# 64 KiB); larger ones are watched by their version counter and a fingerprint: a strided sample of
# about FINGERPRINT_ENTRIES entries compared before and after. Version counters alone miss writes
# through ``.data`` or ``.numpy()``, which get a counter of their own.
COPY_BYTES = 8 * 2**20
FINGERPRINT_ENTRIES = 2**14


def nbytes(inputs: Mapping[str, torch.Tensor]) -> int:
    return sum(t.numel() * t.element_size() for t in inputs.values())


class InputChanged(MatcalcError):
    """A rule's function changed one of its inputs in place."""


def isolated_call(ctx: Context, what: str, fn: Callable[..., Any], inputs: Mapping[str, torch.Tensor],
                  extra: Mapping[str, torch.Tensor] | None = None) -> Any:
    """``fn(**inputs, **extra)`` on private copies (large inputs: watched in place), its return
    value as it is; MatcalcError if it changed any of them."""
    small = nbytes(inputs) <= SMALL_BYTES
    copied = {k for k, v in inputs.items() if small or v.numel() * v.element_size() <= COPY_BYTES}
    given = {k: v.clone() if k in copied else v for k, v in inputs.items()}
    versions = {k: v._version for k, v in given.items()}
    prints = {k: fingerprint(v) for k, v in given.items() if k not in copied}
    value = ctx.call_raw(what, fn, **given, **(extra or {}))
    for name, tensor in given.items():
        if tensor._version != versions[name] or (
                not torch.equal(tensor, inputs[name]) if name in copied
                else not torch.equal(fingerprint(tensor), prints[name])):
            raise InputChanged(
                f"{what} changed its input {name!r} in place ({ctx.where}): a rule's functions must "
                f"not modify their inputs; use out-of-place ops ({name} * 2, not {name}.mul_(2))"
            )
    return value


def fingerprint(t: torch.Tensor) -> torch.Tensor:
    """A copy of about FINGERPRINT_ENTRIES entries of ``t``, evenly spaced over its memory, with a
    stride coprime to the row length, so that every column is sampled.

    >>> fingerprint(torch.arange(10.0)).tolist()
    [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
    """
    flat = t.detach().reshape(-1)
    step = max(1, flat.numel() // FINGERPRINT_ENTRIES)
    row = t.shape[-1] if t.ndim else 1
    while math.gcd(step, row) != 1:  # a stride sharing a factor with the rows would skip columns
        step += 1
    return flat[::step].clone()


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
