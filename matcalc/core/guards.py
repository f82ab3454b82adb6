"""Guards around the user's callables: they must leave their inputs unchanged, and must give the
same value twice.

Example::

    >>> import torch
    >>> same_values(torch.ones(3), torch.ones(3), 1e-12)
    True

How a change is seen, without copying the inputs (a copy and a comparison per input per call cost
more than the whole check at n = 1024: 8 ms and 3 ms for one 8 MiB matrix on this project's CPU):

- Every write that autograd can see bumps the tensor's version counter, which views and
  ``detach()`` share with their base: in-place ops (``A.mul_(2)``), ``out=`` arguments, index
  assignment (``A[0] = 0``), ``copy_``, in-place ops under ``torch.no_grad()``.
- Writes that go around the counter (through ``A.data``, ``A.numpy()``, the storage) are seen by a
  fingerprint: every entry of a tensor of up to :data:`FINGERPRINT_ENTRIES` entries, above that a
  strided sample of about that many, compared bit for bit before and after. The sample meets
  every column, the first and last entries, and every row of a square matrix up to n = 16384, so a
  bypassing write to a whole row, column, diagonal or tensor is seen; one to a few scattered
  entries of a large tensor can slip between the samples.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import torch

from matcalc.core.calls import Context
from matcalc.core.tolerance import relative_error
from matcalc.errors import MatcalcError

# Up to this many bytes of inputs, f and the claim are evaluated twice (non-determinism). Beyond
# it, at large n, the second evaluation would cost more passes over memory than the check itself:
# determinism is then left to the oracle's own re-evaluation. (engine/check.py reads it.)
SMALL_BYTES = 64 * 2**20
# Kept for callers and tests that force the large path by setting it: inputs are no longer copied
# at any size, so nothing reads it here.
COPY_BYTES = 8 * 2**20
# A fingerprint holds every entry of a tensor up to this size, and about this many beyond it: a
# strided gather of 16 Ki entries costs ~40 us on an 8 MiB matrix and ~160 us on a 512 MiB one.
FINGERPRINT_ENTRIES = 2**14
# Integers of each element size, to compare fingerprints bit for bit.
_WORDS = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64, 16: torch.int64}


def nbytes(inputs: Mapping[str, torch.Tensor]) -> int:
    """Bytes held by the tensors of ``inputs``.

    >>> nbytes({"x": torch.zeros(4, dtype=torch.float64), "A": torch.zeros(2, 2)})
    48
    """
    return sum(t.numel() * t.element_size() for t in inputs.values())


class InputChanged(MatcalcError):
    """A rule's function changed one of its inputs in place."""


class _Watch:
    """What a tensor looked like before a call: its version counter and a copy of it (up to
    FINGERPRINT_ENTRIES entries) or its fingerprint (beyond)."""

    __slots__ = ("print", "tensor", "version", "whole")

    def __init__(self, tensor: torch.Tensor) -> None:
        self.tensor = tensor
        self.version = tensor._version
        t = tensor.detach() if tensor.requires_grad else tensor
        self.whole = t.numel() <= FINGERPRINT_ENTRIES
        self.print = t.clone() if self.whole else fingerprint(t)

    def changed(self) -> bool:
        if self.tensor._version != self.version:
            return True
        t = self.tensor.detach() if self.tensor.requires_grad else self.tensor
        now = t if self.whole else fingerprint(t)
        # equal values, or equal bits where torch.equal cannot say (NaN is not equal to itself)
        return not (torch.equal(now, self.print) or _same_bits(now, self.print))


def isolated_call(ctx: Context, what: str, fn: Callable[..., Any], inputs: Mapping[str, torch.Tensor],
                  extra: Mapping[str, torch.Tensor] | None = None) -> Any:
    """``fn(**inputs, **extra)``, its return value as it is; :class:`InputChanged` if it changed
    any of ``inputs``.

    >>> from matcalc.catalog import RULES
    >>> ctx = Context(RULES["linear_map"], {"n": 3}, torch.device("cpu"), torch.float64)
    >>> isolated_call(ctx, "f", lambda x: x * 2, {"x": torch.ones(3)}).tolist()
    [2.0, 2.0, 2.0]
    >>> isolated_call(ctx, "f", lambda x: x.data.mul_(2), {"x": torch.ones(3)})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    matcalc.core.guards.InputChanged: f changed its input 'x' in place (...): ...

    ``fn`` gets its own tensor objects, not copies: ``detach()`` aliases sharing memory and
    version counter, so ``x.requires_grad_()`` stays with the call while any write is seen (an
    in-place view op such as ``x.t_()`` bumps the counter too, and counts as a change). A tensor
    that requires grad (the leaf of a forward with its graph) is passed as it is.
    """
    watches = {k: _Watch(v) for k, v in inputs.items()}
    given = {k: v if v.requires_grad else v.detach() for k, v in inputs.items()}
    value = ctx.call_raw(what, fn, **given, **(extra or {}))
    for name, watch in watches.items():
        if watch.changed():
            raise InputChanged(
                f"{what} changed its input {name!r} in place ({ctx.where}): a rule's functions must "
                f"not modify their inputs; use out-of-place ops ({name} * 2, not {name}.mul_(2))"
            )
    return value


def fingerprint(t: torch.Tensor) -> torch.Tensor:
    """A copy of every entry of ``t`` up to FINGERPRINT_ENTRIES entries, else of about that many,
    evenly spaced over its memory with a stride coprime to the row length (every column is
    sampled), plus the last entry.

    >>> fingerprint(torch.arange(10.0)).tolist()
    [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
    >>> fingerprint(torch.zeros(256, 256)).numel()  # stride 5: 4 shares a factor with 256
    13109
    """
    flat, row = _memory_order(t)
    return flat.clone() if flat.numel() <= FINGERPRINT_ENTRIES else _strided(flat, row)


def _strided(flat: torch.Tensor, row: int) -> torch.Tensor:
    """About FINGERPRINT_ENTRIES entries of ``flat``, a copy: every ``step``-th and the last."""
    step = max(1, flat.numel() // FINGERPRINT_ENTRIES)
    while math.gcd(step, row) != 1:  # a stride sharing a factor with the rows would skip columns
        step += 1
    return torch.cat([flat[::step], flat[-1:]])


def _memory_order(t: torch.Tensor) -> tuple[torch.Tensor, int]:
    """``t`` (detached) flattened without a copy where its layout allows (contiguous, or a
    transposed matrix), and the length of its rows in that order."""
    if t.requires_grad:
        t = t.detach()
    if t.is_contiguous():
        return t.reshape(-1), t.shape[-1] if t.ndim else 1
    if t.ndim >= 2 and t.mT.is_contiguous():
        return t.mT.reshape(-1), t.shape[-2]
    return t.reshape(-1), t.shape[-1]  # any other layout: a copy, still a faithful one


def _same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Bit-for-bit equality of two tensors of one dtype and shape: NaN equals itself (and 0.0
    differs from -0.0), the slow path of a float compare left out (torch.equal on uint8 is ~150x
    slower than on int64 for the same bytes)."""
    words = _WORDS[a.element_size()]
    return torch.equal(a.reshape(-1).view(words), b.reshape(-1).view(words))


def assert_unchanged(ctx: Context, what: str, inputs: Mapping[str, torch.Tensor],
                     versions: Mapping[str, int]) -> None:
    """MatcalcError if a version counter of ``inputs`` moved since ``versions`` was taken (an
    oracle's own evaluations of ``what``).

    >>> from matcalc.catalog import RULES
    >>> ctx = Context(RULES["linear_map"], {"n": 3}, torch.device("cpu"), torch.float64)
    >>> x = torch.ones(3)
    >>> assert_unchanged(ctx, "f", {"x": x}, {"x": x._version})
    """
    for name, tensor in inputs.items():
        if tensor._version != versions[name]:
            raise MatcalcError(
                f"{what} changed input {name!r} in place while the oracle ran ({ctx.where}): use "
                "out-of-place ops"
            )


def same_values(a: torch.Tensor, b: torch.Tensor, tol: float) -> bool:
    """Equal up to rounding (``tol`` relative); NaN in the same places counts as equal.

    >>> same_values(torch.tensor([1.0, float("nan")]), torch.tensor([1.0, float("nan")]), 0.0)
    True
    """
    if a.shape != b.shape:
        return False
    if torch.equal(a, b):  # the usual case, without the two copies of nan_to_num
        return True
    if torch.equal(torch.nan_to_num(a), torch.nan_to_num(b)):
        return True
    return relative_error(a, b) <= tol
