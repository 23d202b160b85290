"""Logging: one record per line on stderr, as JSON (for journald and log shippers) or text.

Both formats carry the event's fields: JSON as keys, text as ``key=value``
after the message. A logged exception's traceback goes into the ``exc`` field
(and ``exc_type``), never as raw lines between records. Every record passes
through a ``Redactor`` first, so a secret never reaches the log, whoever logged
it. When stderr is the journal (``JOURNAL_STREAM`` names it, see
systemd.exec(5)), each line starts with its syslog priority, ``<3>`` for an
error, which journald turns into the entry's PRIORITY (sd-daemon(3)).

``capture_uncaught`` sends what would otherwise be printed raw (errors in
greenlets and WSGI handlers reported by gevent's hub, uncaught exceptions in
threads and the main program) through the same logger.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Mapping
from types import TracebackType
from typing import Any, TextIO

from peppasync.redact import Redactor

__all__ = [
    "JournalFormatter",
    "JsonFormatter",
    "TextFormatter",
    "capture_uncaught",
    "setup_logging",
    "stderr_is_journal",
]

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}

# logging levels -> syslog priorities (sd-daemon(3)): crit, err, warning, info, debug.
_PRIORITIES = ((logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6))

log = logging.getLogger("peppasync")


def _timestamp(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


def _fields(record: logging.LogRecord, formatter: logging.Formatter) -> dict[str, Any]:
    """The event's own fields, then the exception (type and traceback) when one is logged."""
    out = {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}
    if record.exc_info and record.exc_info[0] is not None:
        out["exc_type"] = record.exc_info[0].__name__
        out["exc"] = formatter.formatException(record.exc_info)
    elif record.exc_text:
        out["exc"] = record.exc_text
    if record.stack_info:
        out["stack"] = record.stack_info
    return out


class JsonFormatter(logging.Formatter):
    """Formats a record as ``{"ts", "level", "logger", "msg", ...fields, "exc_type", "exc"}`` on one line."""

    def __init__(self, redactor: Redactor | None = None) -> None:
        super().__init__()
        self.redactor = redactor or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        out.update(_fields(record, self))
        return json.dumps(self.redactor.value(out), default=lambda v: self.redactor.text(str(v)),
                          ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``TIME LEVEL LOGGER: MSG key=value ...``, then any traceback or multi-line field, indented.

    Strings with spaces, quotes or brackets are JSON-quoted and other values
    written as compact JSON, so a line splits back into its fields.
    """

    def __init__(self, redactor: Redactor | None = None) -> None:
        super().__init__()
        self.redactor = redactor or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        fields = self.redactor.value(_fields(record, self))
        pairs: list[str] = []
        blocks: list[str] = []
        for key, value in fields.items():
            if not isinstance(value, str):
                # Numbers, lists, tables: compact JSON, which reads back as it is.
                pairs.append(f"{key}={json.dumps(value, default=str, ensure_ascii=False, separators=(',', ':'))}")
            elif "\n" in value:
                blocks.append(f"  {key}:\n" + "\n".join("    " + line for line in value.rstrip("\n").split("\n")))
            elif value == "" or any(c in value for c in " \"'=[]{}"):
                pairs.append(f"{key}={json.dumps(value, ensure_ascii=False)}")
            else:
                pairs.append(f"{key}={value}")
        head = f"{_timestamp(record)} {record.levelname:<8} {record.name}: {self.redactor.text(record.getMessage())}"
        return "\n".join([" ".join([head, *pairs]), *blocks])


class JournalFormatter(logging.Formatter):
    """Prefixes every line of another formatter's output with the record's ``<priority>``."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        priority = next((p for level, p in _PRIORITIES if record.levelno >= level), 7)
        return "\n".join(f"<{priority}>{line}" for line in self.inner.format(record).split("\n"))


def stderr_is_journal(environ: Mapping[str, str] | None = None, stream: TextIO | None = None) -> bool:
    """Whether stderr is connected to the journal: ``JOURNAL_STREAM`` holds its ``device:inode``.

    Comparing, not just checking the variable is set, is what systemd.exec(5)
    asks: a child whose stderr was redirected inherits the variable too.
    """
    env = os.environ if environ is None else environ
    value = env.get("JOURNAL_STREAM", "")
    device, _, inode = value.partition(":")
    if not (device.isdigit() and inode.isdigit()):
        return False
    try:
        st = os.fstat((stream or sys.stderr).fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return (st.st_dev, st.st_ino) == (int(device), int(inode))


def setup_logging(
    level: str = "info",
    *,
    json_lines: bool = True,
    redactor: Redactor | None = None,
    journal: bool | None = None,
) -> None:
    """Route every logger to stderr, redacted, in JSON or text; with priorities when it is the journal.

    ``journal`` None detects the journal from ``JOURNAL_STREAM``.
    """
    handler = logging.StreamHandler(sys.stderr)
    formatter: logging.Formatter = JsonFormatter(redactor) if json_lines else TextFormatter(redactor)
    if stderr_is_journal() if journal is None else journal:
        formatter = JournalFormatter(formatter)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # pykka logs every failed ask at INFO; the engine reports failures itself.
    logging.getLogger("pykka").setLevel(logging.WARNING)


def capture_uncaught() -> None:
    """Log, with their tracebacks in a field, the errors gevent and Python would print raw.

    gevent's hub prints a failed greenlet's or WSGI handler's traceback to
    stderr; gevent documents replacing ``print_exception`` on the hub for that.
    """
    import gevent

    gevent.get_hub().print_exception = _hub_error
    sys.excepthook = _uncaught
    threading.excepthook = _thread_uncaught


def _context(context: Any) -> str:
    if isinstance(context, dict) and "REQUEST_METHOD" in context:  # a WSGI environ: no headers, they hold tokens
        return f"{context.get('REQUEST_METHOD')} {context.get('PATH_INFO', '')}"
    return repr(context) if context is not None else ""


def _hub_error(context: Any, kind: type[BaseException], value: BaseException | None, tb: TracebackType | None) -> None:
    try:
        error = value if value is not None else kind()
        log.error("greenlet failed", exc_info=(kind, error, tb), extra={"context": _context(context)})
    except Exception:  # noqa: BLE001 - the hub's error handler must never raise
        traceback.print_exception(kind, value, tb)


def _uncaught(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, value, tb)
        return
    log.critical("uncaught exception", exc_info=(kind, value, tb))


def _thread_uncaught(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    log.error("thread failed", exc_info=(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback),
              extra={"thread_name": args.thread.name if args.thread is not None else ""})
