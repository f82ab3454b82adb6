"""How catalog rules cite the Matrix Cookbook, written once.

Example::

    >>> cb(92), f"{cb(92)}, {EDITION}"
    ('Matrix Cookbook (92)', 'Matrix Cookbook (92), version 2012-11-15')
"""

# The edition whose printed errors errata.py keeps (equation numbers differ between editions).
EDITION = "version 2012-11-15"


def cb(eq: int | str) -> str:
    """A rule's source: the Matrix Cookbook's equation ``eq`` (or a section, for an unnumbered one).

    >>> cb("2.5, unnumbered")
    'Matrix Cookbook (2.5, unnumbered)'
    """
    return f"Matrix Cookbook ({eq})"
