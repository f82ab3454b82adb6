"""The engine: settings resolved once, the check's plan, the verdict, and ``check()`` itself.

Internal: not part of the public contract."""
