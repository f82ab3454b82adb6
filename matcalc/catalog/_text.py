"""Catalog entries written as text: the statement shown is rendered from the formula checked.

Example::

    >>> from matcalc.model.domains import matrix
    >>> rule = text_rule("demo_trace_XA", f="tr(X @ A)", derivative="A.T", wrt="X",
    ...                  inputs={"X": matrix("n", "m"), "A": matrix("m", "n")})
    >>> print(rule.latex)
    \\frac{\\partial \\mathrm{Tr}(X A)}{\\partial X} = A^\\top

``RENDERED`` holds the names of the catalog rules built this way (kept outside :class:`Rule`, so
that a rule's fields stay as they are); :func:`matcalc.claims.claim_of` gives a rule's texts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from matcalc.claims import claim
from matcalc.errors import MatcalcError
from matcalc.model.domains import Domain
from matcalc.model.rule import Rule

RENDERED: set[str] = set()


def text_rule(name: str, *, f: str, derivative: str, wrt: str | tuple[str, ...],
              inputs: Mapping[str, Domain],
              **fields: Any) -> Rule:
    """A catalog rule from the texts of ``f`` and ``derivative``; ``inputs`` are its domains,
    exactly (the texts may not add an input or change a shape). A differential
    (``kind="differential"``) names a tuple ``wrt`` and writes its directions as ``dX``."""
    rule = claim(f, wrt=wrt, derivative=derivative, where=dict(inputs), name=name, **fields)
    if dict(rule.inputs) != dict(inputs):
        raise MatcalcError(f"rule {name!r}: the texts imply inputs {rule.describe_inputs()}, not the "
                           "declared ones: fix the texts or the inputs")
    RENDERED.add(name)
    return rule
