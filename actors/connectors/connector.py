"""Connector: the shared core every external-system connector is built on."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
import requests.utils
from requests.cookies import RequestsCookieJar
from requests.structures import CaseInsensitiveDict

from peppasync.errors import ConnectorError, ConnectorLimitError
from peppasync.retry import RetryPolicy

from actors.guard import check_guard

from .aimd import AimdLimit
from .failure import PermanentFailure, TransientFailure
from .hooks import ConnectorHooks
from .limiter import ConcurrencyLimiter, Priority
from .pool import PooledAdapter

__all__ = ["Connector"]

T = TypeVar("T")

#: What ``Connector._prepare`` builds a request from itself; anything else goes through requests.
_LEAN_KWARGS = frozenset({"headers", "data", "params", "json", "auth"})


def _origin(url: str) -> str:
    """Scheme and host (with its port) of a URL: what the environment's settings depend on."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


# (connect, read) seconds: connecting is quick or broken; reading may wait on real work.
DEFAULT_TIMEOUT = (3.05, 30.0)

#: Slots of their own, on top of the limit: the reconciler's healing must not wait for a surge to pass.
RESERVED: dict[int, int] = {Priority.RECONCILE: 1}


class Connector:
    """One external system and account: a pooled session, an adaptive limit, retries.

    ``exchange`` sends one logical request: it waits for a concurrency slot (by
    ``priority`` lane, FIFO within one, see ``ConcurrencyLimiter``; the
    ``RECONCILE`` lane has one slot reserved; ``pause`` holds everyone, nothing is
    dropped), lets the subclass's API limiter
    admit it (``_admit``), sends, and hands the response to a classifier that returns
    the result or raises ``TransientFailure`` / ``PermanentFailure``. Transient
    failures are retried per ``retry`` (default ``RetryPolicy()``: 3 tries within
    30 s; see ``peppasync.retry`` for how this layer composes with the durable
    retries of the message); what cannot succeed raises ``ConnectorError``, with
    the server's ``Retry-After`` when it gave one. The calling greenlet blocks
    cooperatively until the call is done.
    """

    def __init__(
        self,
        name: str,
        *,
        limit: AimdLimit | None = None,
        retry: RetryPolicy | None = None,
        hooks: ConnectorHooks | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
    ) -> None:
        self.name = name
        self.hooks = hooks or ConnectorHooks()
        self.retry = retry or RetryPolicy()
        self.clock = self.retry.clock
        self.aimd = limit or AimdLimit(10)
        # The configured ceiling: what the API allows the account. An operator
        # may lower the limit and raise it again, never past this.
        self.max_limit = self.aimd.maximum
        self.timeout = timeout
        self.throttled = 0
        self.limiter = ConcurrencyLimiter(
            self.aimd.limit, on_inflight=lambda n: self.hooks.on_inflight(self.name, n),
            reserved=RESERVED, now=self.clock.time,
        )
        # A connection for every call that can be in flight, the reserved ones too: a pool one
        # short opened a new connection and threw it away (with a warning) whenever all were in use.
        self.session = session or self._pooled_session(self.aimd.maximum + sum(RESERVED.values()))
        self._environment: dict[str, dict[str, Any]] = {}
        self._netrc_auth: dict[str, tuple[str, str] | None] = {}
        self.hooks.on_limit(self.name, self.aimd.limit)
        self.hooks.watch_waiting(self.name, lambda: self.limiter.waiting)

    @staticmethod
    def _pooled_session(size: int) -> requests.Session:
        session = requests.Session()
        # Retries are ours (classified, jittered); urllib3 must not retry behind our back.
        adapter = PooledAdapter(pool_connections=4, pool_maxsize=max(10, size), max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    # -- operator controls (peppasync.http.ConnectorControl) --------------------

    def pause(self) -> None:
        """Stop sending; callers wait in order until ``resume``."""
        self.limiter.pause()

    def resume(self) -> None:
        self.limiter.resume()

    def set_limit(self, n: int) -> None:
        """Cap concurrency at ``n`` now; adaptation continues below that ceiling.

        ``ConnectorLimitError`` for ``n`` below 1 or above ``max_limit``: a
        limit past what the API allows would release every waiting call at once.
        """
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= self.max_limit:
            raise ConnectorLimitError(self.name, n, low=1, high=self.max_limit)
        self.aimd.set_ceiling(n)
        self.limiter.set_limit(self.aimd.limit)
        self.hooks.on_limit(self.name, self.aimd.limit)

    def stats(self) -> Mapping[str, Any]:
        """In flight, limit, its current cap (``ceiling``) and configured one (``max_limit``), waiting,
        throttled count, bucket available, paused."""
        return {
            "in_flight": self.limiter.inflight,
            "limit": self.limiter.limit,
            "ceiling": self.aimd.maximum,
            "max_limit": self.max_limit,
            "waiting": self.limiter.waiting,
            "throttled": self.throttled,
            "bucket_available": self.bucket_available(),
            "paused": self.limiter.paused,
        }

    def close(self) -> None:
        self.session.close()

    # -- for subclasses ----------------------------------------------------------

    def bucket_available(self) -> float | None:
        """What is left of the API's own rate budget, when it reports one."""
        return None

    def _admit(self, cost: float) -> None:
        """Wait until the API's own limiter should accept a call of ``cost``."""

    def exchange(
        self,
        method: str,
        url: str,
        classify: Callable[[requests.Response], T],
        *,
        cost: float = 1.0,
        priority: int = Priority.NORMAL,
        **kwargs: Any,
    ) -> T:
        """Send one request (retrying transient failures) and return what ``classify`` made of it.

        ``priority`` is the limiter lane the request (and each of its retries) waits in.
        """
        started = self.clock.monotonic()
        attempt = 0
        while True:
            attempt += 1
            failure = self._try(method, url, classify, cost, priority, kwargs)
            if not isinstance(failure, TransientFailure):
                return failure
            wait = self.retry.next_delay(attempt, self.clock.monotonic() - started, failure.retry_after)
            if wait is None:
                raise ConnectorError(
                    f"{self.name}: {method} {url} failed {attempt} time(s), last: {failure}",
                    connector=self.name, status=failure.status, code=failure.code,
                    transient=True, retry_after=failure.retry_after,
                )
            self.retry.sleep(wait)

    def _try(
        self, method: str, url: str, classify: Callable[[requests.Response], T], cost: float, priority: int,
        kwargs: dict[str, Any],
    ) -> T | TransientFailure:
        # Everything that needs no answer (building, signing, proxy settings)
        # happens before taking a slot: a slot is the API's scarce concurrency,
        # and is held only while the request is on the wire. Signed afresh per
        # attempt, so a retry never repeats an OAuth nonce.
        prepared = self._prepare(method, url, kwargs)
        send = self._environment_settings(prepared.url)
        with self.limiter.slot(priority):
            self._admit(cost)
            # On a cluster: the handler's key may have moved to another node while we waited.
            check_guard()
            epoch = self.aimd.epoch
            inflight = self.limiter.inflight
            began = self.clock.monotonic()
            try:
                response = self.session.send(prepared, timeout=self.timeout, allow_redirects=True, **send)
                result = classify(response)
            except requests.Timeout as exc:
                failure = TransientFailure(f"timed out: {exc}", code="TIMEOUT")
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
                failure = TransientFailure(f"connection failed: {exc}", code="CONNECTION", congestion=False)
            except TransientFailure as exc:
                failure = exc
            except PermanentFailure as exc:
                self.hooks.on_request(self.name, "permanent_error", self.clock.monotonic() - began)
                raise ConnectorError(
                    f"{self.name}: {method} {url} refused: {exc}",
                    connector=self.name, status=exc.status, code=exc.code, transient=False,
                ) from exc
            else:
                seconds = self.clock.monotonic() - began
                self.hooks.on_request(self.name, "ok", seconds)
                self.aimd.on_success(seconds, inflight, epoch)
                self._apply_limit()
                return result
            seconds = self.clock.monotonic() - began
            if failure.throttled:
                self.throttled += 1
                self.hooks.on_throttled(self.name)
            self.hooks.on_request(self.name, "throttled" if failure.throttled else "transient_error", seconds)
            if failure.congestion:
                if failure.throttled or failure.status is None:  # said so, or no answer in time
                    self.aimd.on_drop(epoch, throttled=failure.throttled, inflight=inflight)
                else:  # an error answer (a 503): a drop when it is not alone
                    self.aimd.on_error(epoch)
                self._apply_limit()
            return failure

    def _prepare(self, method: str, url: str, kwargs: dict[str, Any]) -> requests.PreparedRequest:
        """What ``Session.prepare_request`` makes, without what it redoes for every call.

        requests copies the session's cookies into a new jar twice, merges the session's
        headers, params and auth into the call's, and looks for a netrc file for each call; in
        a surge's ingest that was 3% of the engine's CPU. A connector's session holds no cookies
        unless a server set one: then, and for files or cookies of the call's own, requests'
        own way is taken.
        """
        session = self.session
        if session.cookies or session.params or kwargs.keys() - _LEAN_KWARGS:
            return session.prepare_request(requests.Request(method, url, **kwargs))
        headers = CaseInsensitiveDict(session.headers)
        headers.update(kwargs.get("headers") or {})
        for name in [name for name, value in headers.items() if value is None]:
            del headers[name]  # as requests merges them: None takes a header out
        auth = kwargs.get("auth")
        if not auth and not session.auth and session.trust_env:
            auth = self._netrc(url)
        if auth is None:
            auth = session.auth
        prepared = requests.PreparedRequest()
        prepared.prepare(method=method.upper(), url=url, headers=headers, data=kwargs.get("data"),
                         params=kwargs.get("params"), json=kwargs.get("json"), auth=auth,
                         cookies=RequestsCookieJar(), hooks=session.hooks)
        return prepared

    def _netrc(self, url: str) -> tuple[str, str] | None:
        """Credentials for the URL's host from a netrc file, as requests looks them up: once per origin."""
        origin = _origin(url)
        if origin not in self._netrc_auth:
            self._netrc_auth[origin] = requests.utils.get_netrc_auth(url)
        return self._netrc_auth[origin]

    def _environment_settings(self, url: str | None) -> dict[str, Any]:
        """Proxies and TLS settings from the environment (HTTPS_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE...).

        Looked up once per scheme and host: requests scans the whole environment
        on every call otherwise, which cost about 5% of the engine's CPU in a surge.
        The environment of a running server does not change.
        """
        origin = _origin(url or "")
        found = self._environment.get(origin)
        if found is None:
            found = self._environment[origin] = dict(self.session.merge_environment_settings(
                url, {}, None, None, None))
        return found

    def _apply_limit(self) -> None:
        new = self.aimd.limit
        if new != self.limiter.limit:
            self.limiter.set_limit(new)
            self.hooks.on_limit(self.name, new)
