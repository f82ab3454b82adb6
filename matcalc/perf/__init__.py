"""Performance tools: timing, closed forms against autograd as n grows, time to a verdict.

Internal: not part of the public contract."""
