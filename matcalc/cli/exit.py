"""The exit codes of every `matcalc` command, defined once.

    0    every check as expected (true rules pass, errata fail)
    1    some check failed unexpectedly, or an erratum passed
    2    misuse: one line on stderr naming the fix, no traceback
    3    no unexpected outcome, but some check was inconclusive (it could not decide)
    130  interrupted (Ctrl-C)
    141  stdout closed early (e.g. piped into `head`): quiet, as Unix tools are

Example::

    >>> exit_status(["expected", "inconclusive"]), exit_status([]), exit_status(["unexpected"])
    (3, 0, 1)
"""

from __future__ import annotations

from collections.abc import Iterable

OK, UNEXPECTED, MISUSE, INCONCLUSIVE = 0, 1, 2, 3
INTERRUPTED, BROKEN_PIPE = 130, 141
# The codes above as every command's --help ends.
EPILOG = (f"exit codes: {OK} every check as expected (true rules pass, errata fail); {UNEXPECTED} a check "
          f"failed unexpectedly or an erratum passed; {MISUSE} misuse; {INCONCLUSIVE} no failure but some "
          f"check inconclusive; {INTERRUPTED} interrupted; {BROKEN_PIPE} output pipe closed")


def exit_status(verdicts: Iterable[str]) -> int:
    """The exit code for a run's verdicts ("expected", "unexpected" or "inconclusive", see
    matcalc.expectation): unexpected wins over inconclusive, which wins over all as expected."""
    seen = set(verdicts)
    unknown = seen - {"expected", "unexpected", "inconclusive"}
    if unknown:
        raise ValueError(f"unknown verdict {sorted(unknown)[0]!r}")
    if "unexpected" in seen:
        return UNEXPECTED
    return INCONCLUSIVE if "inconclusive" in seen else OK
