"""The one error tree of Peppasync.

Every failure the engine raises on purpose is a ``PeppasyncError``. Errors carry
their data as attributes so that callers (supervisors, the CLI, the HTTP layer)
can act on them without parsing messages.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "ConfigProblem",
    "ConnectorError",
    "ConnectorLimitError",
    "FencedError",
    "InstallationError",
    "JsonInputError",
    "ListenError",
    "NotFoundError",
    "PeppasyncError",
    "PermanentError",
    "RejectedError",
    "RuntimeStartError",
    "StoreError",
    "StoreUnavailableError",
    "TransientError",
    "ValidationError",
]


class PeppasyncError(Exception):
    """Root of every error Peppasync raises on purpose."""


class ConfigProblem:
    """One thing wrong with a configuration: where, what, and what was expected."""

    __slots__ = ("path", "key", "message")

    def __init__(self, path: str, key: str, message: str) -> None:
        self.path = path
        self.key = key
        self.message = message

    def __str__(self) -> str:
        where = f"{self.path}: {self.key}" if self.key else self.path
        return f"{where}: {self.message}"

    def __repr__(self) -> str:
        return f"ConfigProblem({self.path!r}, {self.key!r}, {self.message!r})"


class ConfigError(PeppasyncError):
    """The configuration cannot be used; ``problems`` lists every reason."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class StoreError(PeppasyncError):
    """The durable store failed or cannot be opened."""

    def __init__(self, message: str, *, url: str = "") -> None:
        self.url = url
        super().__init__(message)


class FencedError(StoreError):
    """A write was refused: the lease it was made under has moved on (another node owns those keys now).

    ``lease`` names the lease, ``epoch`` the one the write carried, ``current``
    the lease's epoch now (0 when the lease does not exist; None when this node
    stopped before writing because it could not renew the lease in time).
    """

    def __init__(self, lease: str, epoch: int, current: int | None) -> None:
        self.lease = lease
        self.epoch = epoch
        self.current = current
        if current is None:
            text = (f"lease {lease} (epoch {epoch}) was not renewed within its TTL; another node may own"
                    " these keys now, so nothing more is handled under it")
        else:
            text = (f"write refused: lease {lease} is at epoch {current}, the write was made under epoch {epoch};"
                    " another node owns these keys now")
        super().__init__(text)


class InstallationError(PeppasyncError):
    """Files of the installed engine packages are not Peppasync's own; ``problems`` says which and what to do."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class NotFoundError(PeppasyncError):
    """A record asked for by id does not exist."""

    def __init__(self, what: str, ident: object) -> None:
        self.what = what
        self.ident = ident
        super().__init__(f"no {what} with id {ident}")


class RuntimeStartError(PeppasyncError):
    """The runtime refuses or fails to start (gevent not patched, port taken, store unreachable).

    ``serve`` exits 2 on it: the service manager must not restart into the same wall.
    """


class ListenError(RuntimeStartError):
    """The server cannot listen on ``host:port``; ``reason`` is the system's word, ``errno`` its number."""

    def __init__(self, host: str, port: int, reason: str, *, errno: int | None = None) -> None:
        self.host = host
        self.port = port
        self.reason = reason
        self.errno = errno
        super().__init__(
            f"cannot listen on {host}:{port}: {reason.lower()}; stop what holds the port"
            f" or change [server] listen"
        )


class StoreUnavailableError(RuntimeStartError):
    """The store cannot be opened or migrated at start; ``url`` has no password."""

    def __init__(self, message: str, *, url: str) -> None:
        self.url = url
        super().__init__(message)


class PermanentError(PeppasyncError):
    """Retrying will not help: the message is quarantined at once."""

    reason = "permanent"


class ValidationError(PermanentError):
    """A payload is malformed or violates a business rule."""

    reason = "validation"

    def __init__(self, message: str, *, field: str = "") -> None:
        self.field = field
        super().__init__(message)


class JsonInputError(ValidationError):
    """Input from outside is not JSON the engine can keep (see ``peppasync.strict_json``).

    ``problem`` names the rule broken (``not_json``, ``too_deep``,
    ``number_too_long``, ...), for counting and for the client; ``position`` is
    the offset where the document breaks, when one is known.
    """

    def __init__(self, message: str, *, problem: str, position: int | None = None) -> None:
        self.problem = problem
        self.position = position
        super().__init__(message)


class RejectedError(PermanentError):
    """An external system refused a request for good (a 4xx, a userError)."""

    def __init__(self, message: str, *, connector: str, code: str = "") -> None:
        self.connector = connector
        self.code = code
        self.reason = f"{connector}_rejected"
        super().__init__(message)


class TransientError(PeppasyncError):
    """A failure that may pass: retried with backoff, honouring ``retry_after``."""

    reason = "transient"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class ConnectorLimitError(PeppasyncError):
    """An operator asked a connector for a concurrency limit outside ``low``..``high``."""

    def __init__(self, connector: str, requested: int, *, low: int, high: int) -> None:
        self.connector = connector
        self.requested = requested
        self.low = low
        self.high = high
        super().__init__(
            f"the {connector} connector's limit must be from {low} to {high} (its configured ceiling),"
            f" got {requested}"
        )


class ConnectorError(PeppasyncError):
    """A call to an external system failed.

    ``transient`` says whether the connector classified it as worth retrying.
    """

    def __init__(
        self,
        message: str,
        *,
        connector: str,
        status: int | None = None,
        code: str = "",
        transient: bool = False,
        retry_after: float | None = None,
    ) -> None:
        self.connector = connector
        self.status = status
        self.code = code
        self.transient = transient
        self.retry_after = retry_after
        super().__init__(message)
