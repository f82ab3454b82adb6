"""TODO"""

RULES: tuple = ()
