"""A property-based adversary that hunts wrong verdicts.

matcalc promises: a true claim passes, or is inconclusive with a stated reason that holds; a wrong
claim fails or is inconclusive, and never passes. ``compose`` draws claims (random compositions
with torch.func truths, chain-rule closed forms with classic slips, catalog rules with scaled f and
mutants), ``property`` labels, checks and classifies them, and ``backwards`` does the same for
hand-written backwards (autograd.Function and custom ops with planted bugs).

tests/test_adversary.py runs a small budget in the normal suite; bench/adversary.py is the long
profile; tests/test_adversary_regressions.py keeps one test per class of counterexample found.
"""
