"""The one exception class matcalc raises for misuse."""


class MatcalcError(ValueError):
    """Misuse of matcalc: the message names the rule and says what to fix.

    A wrong *claim* never raises this; it gives a failed :class:`~matcalc.Result`.
    """
