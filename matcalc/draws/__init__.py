"""Drawing inputs: the small draws from private torch generators, and the large-input path.

Internal: not part of the public contract."""
