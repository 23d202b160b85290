"""Failure signals a connector's response classifier raises, and their parsing helpers."""

from __future__ import annotations

import email.utils
import time

import requests

__all__ = ["PermanentFailure", "TransientFailure", "classify_status", "parse_retry_after"]


class TransientFailure(Exception):
    """This try failed but another may not; ``throttled`` when the API said slow down."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str = "",
        retry_after: float | None = None,
        throttled: bool = False,
        congestion: bool = True,
    ) -> None:
        self.status = status
        self.code = code
        self.retry_after = retry_after
        self.throttled = throttled
        # Whether the adaptive limit should back off (a reset connection after a restart
        # of the far side is not a sign of load, a 503 or a timeout is).
        self.congestion = congestion
        super().__init__(message)


class PermanentFailure(Exception):
    """Retrying will not help: the request itself was refused."""

    def __init__(self, message: str, *, status: int | None = None, code: str = "") -> None:
        self.status = status
        self.code = code
        super().__init__(message)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date; None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def classify_status(response: requests.Response, detail: str = "", code: str = "") -> None:
    """Raise the failure an HTTP status means; return quietly for 2xx and 3xx."""
    status = response.status_code
    if status < 400:
        return
    text = detail or response.reason or ""
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if status == 429:
        raise TransientFailure(
            f"throttled (HTTP 429){': ' + text if text else ''}",
            status=status, code=code or "THROTTLED", retry_after=retry_after, throttled=True,
        )
    if status == 408 or status >= 500:
        raise TransientFailure(
            f"HTTP {status}{': ' + text if text else ''}",
            status=status, code=code, retry_after=retry_after, congestion=status in (408, 502, 503, 504),
        )
    raise PermanentFailure(f"HTTP {status}{': ' + text if text else ''}", status=status, code=code)
