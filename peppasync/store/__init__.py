"""The durable store: mailboxes of record, quarantine, audit log, webhook dedup keys, actor state.

peewee lives only behind this package. Open a store with ``open_store(url)``
(``sqlite:///path`` or ``postgresql://...``), call ``migrate()``, then write
through ``store.write([ops.Insert(...), ...])``: one writer greenlet commits
every waiting request in one transaction (group commit)::

    store = open_store("sqlite:///var/lib/peppasync/store.db")
    store.migrate()
    message_id = store.enqueue("orders", "1001", {"id": 1001})
    attempts, = store.write([ops.Start(message_id)])
    store.write([ops.Done(message_id)])
    store.close()

A request (the ops of one ``write``) is all or nothing, and its result comes
back only after the commit. A failing request fails alone: its caller gets the
exception (NotFoundError for a message that is gone, StoreError for the
database), the other requests of the batch commit. SQLite runs in WAL mode with
``synchronous=FULL`` on its own threads, never on the gevent hub; PostgreSQL
goes through psycopg 3, which yields to other greenlets while it waits.
"""

from __future__ import annotations

from peppasync.clock import Clock, SystemClock
from peppasync.metrics import Metrics
from peppasync.store import ops
from peppasync.store.backend import open_backend, redact_url
from peppasync.store.leases import lease_of
from peppasync.store.records import (
    Admission,
    AuditEntry,
    MailboxStats,
    Message,
    NewMessage,
    QuarantineEntry,
    QuarantinePage,
    Requeued,
)
from peppasync.store.store import Store

__all__ = [
    "Admission",
    "AuditEntry",
    "MailboxStats",
    "Message",
    "NewMessage",
    "QuarantineEntry",
    "QuarantinePage",
    "Requeued",
    "Store",
    "lease_of",
    "open_store",
    "ops",
    "redact_url",
]


def open_store(
    url: str,
    *,
    clock: Clock | None = None,
    batch_max: int = 2000,
    metrics: Metrics | None = None,
    create: bool = True,
    idle_in_transaction: float | None = None,
) -> Store:
    """Open the store at ``url``; connections open on first use, the schema is not touched.

    ``idle_in_transaction`` (PostgreSQL): seconds after which the server ends a transaction
    of ours that sits idle (a cluster node's lease TTL).

    StoreError when the URL cannot be used (the message names the URL, never
    its password), or, without ``create``, when its SQLite file does not
    exist; ValueError for a ``batch_max`` below 1.
    """
    if isinstance(batch_max, bool) or not isinstance(batch_max, int) or batch_max < 1:
        raise ValueError(f"batch_max must be an integer of at least 1, got {batch_max!r}")
    backend = open_backend(url, create=create, idle_in_transaction=idle_in_transaction)
    return Store(backend, redact_url(url), clock or SystemClock(), batch_max, metrics)
