"""An actor that crashes is logged with its exception, not only its name."""

import logging

import gevent.event

from actors.durable import DurableActor


class Unloadable(DurableActor):
    """Cannot load its state: every activation crashes."""

    kind = "unloadable"

    def loaded(self) -> None:
        raise RuntimeError("the saved state cannot be read")

    def handle(self, message):
        pass


class _Catch(logging.Handler):
    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message
        self.record: gevent.event.AsyncResult = gevent.event.AsyncResult()

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage() == self.message:
            self.record.set(record)


def test_an_actor_that_crashes_is_logged_with_its_exception_and_traceback(make_system):
    catch = _Catch("actor crashed; restarting")
    logger = logging.getLogger("peppasync.actors")
    logger.addHandler(catch)
    try:
        system = make_system(Unloadable)
        system.tell("unloadable", "k1", {"n": 1})
        record = catch.record.get(timeout=10)
    finally:
        logger.removeHandler(catch)

    assert (record.kind, record.key) == ("unloadable", "k1")
    assert record.exc_info is not None
    assert record.exc_info[0] is RuntimeError
    assert "the saved state cannot be read" in logging.Formatter().formatException(record.exc_info)
