"""A scratch PostgreSQL schema for a benchmark's store: made for the run, dropped after it."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from urllib.parse import quote

__all__ = ["create_schema", "drop_schema", "scratch_schema"]


def create_schema(url: str, schema: str) -> str:
    """A fresh schema in the database at ``url``; the URL whose connections use it."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options={quote(f'-csearch_path={schema}')}"


def drop_schema(url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")


@contextlib.contextmanager
def scratch_schema(url: str, prefix: str = "peppasync_bench") -> Iterator[str]:
    """The URL of a new schema at ``url``, dropped with everything in it on the way out."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    scoped = create_schema(url, schema)
    try:
        yield scoped
    finally:
        drop_schema(url, schema)
