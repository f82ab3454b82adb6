"""Front-end outputs: the report table, the catalog page, the sweep, plots, strict JSON.

Internal: not part of the public contract."""
