"""The reliability suite: real `genflow serve` processes under crashes, load, bad input,
bad clients and a failing model. Run with the rest of the tests (CI), or alone:

    python -m pytest -q tests/reliability        # a few minutes
    python -m pytest -q -m "not reliability"     # everything else
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "reliability: the reliability suite (tests/reliability)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/reliability/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.reliability)
