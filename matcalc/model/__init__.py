"""The model: rules, domains, sizes, and finding the rules in a user's module.

Internal: not part of the public contract. Use the names :mod:`matcalc` exports (``mc.Rule``,
``mc.vector``, ``mc.matrix``, ``mc.scalar``); the modules here may move.
"""
