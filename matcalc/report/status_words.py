"""What an outcome means for a rule: as expected, unexpected or inconclusive.

A true rule should pass and an erratum (``refuted=True``) should fail; an inconclusive check
decided nothing and is neither.

Example::

    >>> status_of("fail", refuted=True), verdict_of("fail", refuted=True)
    ('refuted', 'expected')
    >>> status_of("pass", refuted=True), verdict_of("pass", refuted=True)
    ('UNREFUTED', 'unexpected')
    >>> verdict_of("inconclusive", refuted=False)
    'inconclusive'
"""

from __future__ import annotations

from typing import Literal

# What an outcome means for a rule; matcalc.engine.verdict.Verdict is the check's own pass/fail.
Status = Literal["expected", "unexpected", "inconclusive"]
OUTCOMES = ("pass", "fail", "inconclusive")


def status_of(outcome: str, refuted: bool) -> str:
    """The report's status word: pass, FAIL, refuted (an erratum that fails, as it should),
    UNREFUTED (an erratum that passed) or inconclusive.

    >>> status_of("pass", refuted=False), status_of("fail", refuted=False)
    ('pass', 'FAIL')
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}: use one of {OUTCOMES}")
    if outcome == "inconclusive":
        return "inconclusive"
    if refuted:
        return "UNREFUTED" if outcome == "pass" else "refuted"
    return "pass" if outcome == "pass" else "FAIL"


def verdict_of(outcome: str, refuted: bool) -> Status:
    """expected (a true rule passed, an erratum failed), unexpected, or inconclusive.

    >>> verdict_of("pass", refuted=False)
    'expected'
    """
    status = status_of(outcome, refuted)
    if status == "inconclusive":
        return "inconclusive"
    return "expected" if status in ("pass", "refuted") else "unexpected"
