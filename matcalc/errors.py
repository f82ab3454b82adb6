"""The one exception class matcalc raises for misuse (public: part of the contract)."""

__all__ = ["MatcalcError"]


class MatcalcError(ValueError):
    """Misuse of matcalc: the message names the rule and says what to fix.

    >>> import matcalc as mc
    >>> mc.matrix("n", "n", structure="hermitian")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    matcalc.errors.MatcalcError: unknown structure 'hermitian': use one of general, symmetric, spd, ...
    >>> issubclass(mc.MatcalcError, ValueError)
    True

    A wrong *claim* never raises this; it gives a failed :class:`~matcalc.Result`. Misuse does:
    ``wrt`` not among the inputs, an unknown device or dtype, an unknown structure, sizes that
    name no dim of the rule, f or the derivative raising (the original error is chained as
    ``__cause__``). It is a :class:`ValueError`, so code that catches that keeps working.
    """
