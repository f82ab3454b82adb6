"""A Griffe extension for the API page: the docstrings' doctests shown as Python code.

matcalc's docstrings open with doctests (``>>>`` lines, run by ``pytest --doctest-modules``) in
their free text, where Markdown would read them as prose: ``[r.outcome for r in ...]`` followed by
``['pass']`` is a reference link to Markdown. This wraps each run of doctest lines (from a ``>>>``
line to the next blank line) in a ``pycon`` fence, and turns the reST ``::`` that announces one
into ``:``. The docstrings themselves are not changed.
"""

from __future__ import annotations

from typing import Any

from griffe import Extension, Object


def fence_doctests(text: str) -> str:
    r"""``text`` with each doctest run fenced as ``pycon``.

    >>> fence_doctests("Example::\n\n    >>> 1 + 1\n    2\n\nMore.").splitlines()
    ['Example:', '', '```pycon', '>>> 1 + 1', '2', '```', '', 'More.']
    """
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        if not lines[i].lstrip().startswith(">>>"):
            out.append(lines[i])
            i += 1
            continue
        indent = len(lines[i]) - len(lines[i].lstrip())
        run = []
        while i < len(lines) and lines[i].strip():
            run.append(lines[i][indent:])
            i += 1
        for k in range(len(out) - 1, -1, -1):  # the paragraph that announced it, past blank lines
            if out[k].strip():
                if out[k].endswith("::"):
                    out[k] = out[k][:-1]
                break
        out += ["```pycon", *run, "```"]
    return "\n".join(out)


class DoctestFences(Extension):
    """Fence the doctests of every docstring Griffe reads (see the module's docstring)."""

    def on_instance(self, *, obj: Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = fence_doctests(obj.docstring.value)
