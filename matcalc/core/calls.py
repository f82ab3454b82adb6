"""Calling a rule's own functions: their errors become MatcalcError with the rule and the check's
context, and whatever they return must be a tensor."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from matcalc.errors import MatcalcError
from matcalc.model.rule import Rule


class Context:
    """Wraps user callables so that their errors become MatcalcError with context."""

    def __init__(self, rule: Rule, sizes: Mapping[str, int], device: torch.device,
                 dtype: torch.dtype) -> None:
        dims = ", ".join(f"{k}={v}" for k, v in sizes.items()) or "no dims"
        self.rule = rule
        self.where = f"while checking rule {rule.name!r} at {dims} on {device.type}/" \
                     f"{str(dtype).removeprefix('torch.')}"

    def call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> torch.Tensor:
        return self._call(what, fn, args, kwargs, keep_graph=False)

    def call_keep_graph(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> torch.Tensor:
        """Like call, but the result stays differentiable: a claimed jvp is transposed by autograd
        when the rule gives no vjp."""
        return self._call(what, fn, args, kwargs, keep_graph=True)

    def call_raw(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn``'s own return value, whatever its type; only its errors are wrapped."""
        try:
            return fn(*args, **kwargs)
        except MatcalcError:
            raise
        except Exception as exc:
            raise MatcalcError(
                f"{what} raised {type(exc).__name__}: {exc} ({self.where}); fix {what} or the "
                "rule's input domains"
            ) from exc

    def _call(self, what: str, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
              *, keep_graph: bool) -> torch.Tensor:
        value = self.call_raw(what, fn, *args, **kwargs)
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = torch.tensor(float(value), dtype=torch.float64)
        if not isinstance(value, torch.Tensor):
            raise MatcalcError(
                f"{what} returned {type(value).__name__}, not a tensor ({self.where}): "
                "return a torch.Tensor"
            )
        return value if keep_graph else value.detach()


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
