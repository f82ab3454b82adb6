"""JSON that strict parsers accept: NaN and infinities become null, with the value spelt out in a
``<key>_text`` field beside it.

Example::

    >>> dumps({"error": float("inf"), "tolerance": 1e-12})
    '{"error": null, "error_text": "inf", "tolerance": 1e-12}'
    >>> dumps([float("nan"), 1.0])
    '[null, 1.0]'
"""

from __future__ import annotations

import json
import math
from typing import Any


def strict(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None (and named in ``<key>_text`` when it
    sits in a dict).

    >>> strict({"x": float("-inf")})
    {'x': None, 'x_text': '-inf'}
    """
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for k, v in value.items():
            out[k] = strict(v)
            if isinstance(v, float) and not math.isfinite(v):
                out[f"{k}_text"] = str(v)
        return out
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    return value


def dumps(value: Any, **kwargs: Any) -> str:
    """``json.dumps`` of ``strict(value)``; it never writes NaN or Infinity."""
    return json.dumps(strict(value), allow_nan=False, **kwargs)
