"""What the server's log shows: one record per line, fields kept, tracebacks in a field, no secret."""

import json
import logging
import sys
import threading

import gevent
import pytest

from peppasync.logs import capture_uncaught, setup_logging
from peppasync.redact import Redactor


@pytest.fixture
def logged(capsys):
    """Logging set up as `serve` does it, into captured stderr; everything put back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    hooks = (sys.excepthook, threading.excepthook)
    hub = gevent.get_hub()

    def lines(form: str = "json", known: tuple[str, ...] = ()) -> None:
        setup_logging("debug", json_lines=form == "json", redactor=Redactor(known), journal=False)
        capture_uncaught()

    yield lines
    root.handlers[:], root.level = handlers, level
    sys.excepthook, threading.excepthook = hooks
    vars(hub).pop("print_exception", None)


def _records(capsys) -> list[dict[str, object]]:
    return [json.loads(line) for line in capsys.readouterr().err.splitlines()]


def test_a_greenlet_that_fails_is_logged_as_one_json_line_with_its_traceback_in_a_field(logged, capsys):
    logged()

    def fail() -> None:
        raise ZeroDivisionError("the greenlet's own error")

    gevent.spawn(fail).join()

    [record] = _records(capsys)
    assert (record["level"], record["msg"], record["exc_type"]) == ("error", "greenlet failed", "ZeroDivisionError")
    assert "in fail" in str(record["exc"]) and "the greenlet's own error" in str(record["exc"])


def test_a_thread_that_fails_is_logged_with_its_traceback(logged, capsys):
    logged()

    def fail() -> None:
        raise KeyError("lost")

    thread = threading.Thread(target=fail, name="worker")
    thread.start()
    thread.join()

    [record] = _records(capsys)
    assert (record["msg"], record["exc_type"], record["thread_name"]) == ("thread failed", "KeyError", "worker")


def test_secrets_are_masked_in_the_message_the_fields_and_the_traceback(logged, capsys):
    logged(known=("shpat_0123456789abcdef",))
    log = logging.getLogger("peppasync.test")

    try:
        raise ConnectionError("GET https://shop.example/admin?access_token=shpat_0123456789abcdef failed")
    except ConnectionError:
        log.exception("call failed to %s", "postgresql://app:s3cret-pw@db:5432/peppasync",
                      extra={"ops_token": "abc", "headers": {"Authorization": "Bearer zz-9f8e7d"}})

    out = capsys.readouterr().err
    record = json.loads(out)
    assert record["msg"] == "call failed to postgresql://app:***@db:5432/peppasync"
    assert record["ops_token"] == "***"
    assert record["headers"] == {"Authorization": "***"}
    assert "access_token=***" in str(record["exc"])
    for secret in ("shpat_0123456789abcdef", "s3cret-pw", "zz-9f8e7d"):
        assert secret not in out


def test_text_lines_carry_the_fields_and_the_traceback_below_indented(logged, capsys):
    logged(form="text")
    log = logging.getLogger("peppasync.test")

    try:
        raise ValueError("bad")
    except ValueError:
        log.error("handler failed", exc_info=True, extra={"kind": "order", "key": "1001", "attempts": 3,
                                                            "detail": "two words"})

    first, *rest = capsys.readouterr().err.splitlines()
    assert first.split(" ", 1)[1] == (
        'ERROR    peppasync.test: handler failed kind=order key=1001 attempts=3 detail="two words" exc_type=ValueError'
    )
    assert rest[0] == "  exc:"
    assert rest[-1] == "    ValueError: bad"
