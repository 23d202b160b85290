"""A supervisor logs a child's failure with the child's exception and traceback."""

import logging

import pytest

from supervisors import OneForOneStrategy, RestartIntensity

from .doubles import crash, supervise, workers


def test_a_failed_child_is_logged_with_its_exception(journal, clock, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.WARNING, logger="peppasync.supervisors")
    supervise(journal, workers(journal, "a"), strategy=OneForOneStrategy(),
              intensity=RestartIntensity(max_restarts=10, period=5.0), clock=clock)

    crash(journal, "a")
    journal.wait_count("restarted", 1)

    [record] = [r for r in caplog.records if r.getMessage() == "child failed"]
    assert record.child == "a"
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError
    assert "a crashed" in logging.Formatter().formatException(record.exc_info)
