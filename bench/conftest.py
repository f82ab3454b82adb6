"""Options for the pytest-benchmark suite (bench/ is not part of `pytest` in tests/).

    pytest bench/ --bench-device cpu --bench-max-n 4096 --benchmark-json bench.json
"""

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("matcalc bench")
    group.addoption("--bench-device", default="cpu", help="cpu or cuda")
    group.addoption("--bench-dtype", default="float32", help="float32 or float64")
    group.addoption("--bench-max-n", type=int, default=None, help="largest n (default: per device)")
    group.addoption("--bench-budget", type=float, default=5.0, help="predicted seconds a cell may take")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "bench: a timed cell")
