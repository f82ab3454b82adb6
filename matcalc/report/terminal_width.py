"""Fitting a tabulate table to a terminal's width: cut the flexible columns short, then drop them.

Example::

    >>> rows = [["quadratic_form", "D(x^T A x) = x^T (A^T + A)", "pass"]]
    >>> print(fit_table(["rule", "statement", "status"], rows, width=36, tablefmt="plain",
    ...                 flexible=[1]))
    rule            statement     status
    quadratic_form  D(x^T A x...  pass
"""

from __future__ import annotations

from collections.abc import Sequence

from tabulate import tabulate

MIN_WIDTH = 10
ELLIPSIS = "..."


def cut(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, ending in "..." when cut.

    >>> cut("abcdefgh", 6), cut("abc", 6)
    ('abc...', 'abc')
    """
    return text if len(text) <= width else text[: max(width - len(ELLIPSIS), 0)] + ELLIPSIS


def _width(text: str) -> int:
    return max((len(line) for line in text.splitlines()), default=0)


def fit_table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, width: int, tablefmt: str,
              flexible: Sequence[int], keep: Sequence[int] = ()) -> str:
    """Render with tabulate; while wider than ``width``, take the ``flexible`` columns in order:
    cut each short (to no less than MIN_WIDTH characters) or, when that is not enough, drop it
    (the columns in ``keep`` are only cut). The result may still be wider when nothing is left."""
    columns = list(range(len(headers)))
    limits: dict[int, int] = {}

    def render() -> str:
        body = [[cut(row[c], limits[c]) if c in limits else row[c] for c in columns] for row in rows]
        return tabulate(body, headers=[cut(headers[c], limits.get(c, 10**6)) for c in columns],
                        tablefmt=tablefmt, disable_numparse=True)

    text = render()
    for c in flexible:
        excess = _width(text) - width
        if excess <= 0:
            break
        current = max([len(headers[c]), *(len(row[c]) for row in rows)])
        if current - excess >= MIN_WIDTH or c in keep:
            limits[c] = max(current - excess, MIN_WIDTH)
        else:
            columns.remove(c)
        text = render()
    return text
