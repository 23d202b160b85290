"""Fixtures for the operations pack: promtool, and the exposition the server would serve."""

from __future__ import annotations

import pytest

from peppasync.metrics import Metrics

from tests.deploy.promql import exported_series, promtool


@pytest.fixture
def needs_promtool() -> str:
    """promtool's path; skips with the way to get it when it is not installed."""
    path = promtool()
    if path is None:
        pytest.skip(
            "promtool is not installed (CI installs it: apt-get install --no-install-recommends prometheus)"
        )
    return path


@pytest.fixture(scope="session")
def exported() -> set[str]:
    """Series names in the exposition of a fresh ``Metrics``, process collectors included."""
    return exported_series(Metrics(process=True).exposition().decode())
