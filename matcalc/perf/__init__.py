"""Performance tools: timing, closed forms against autograd as n grows, time to a verdict."""
