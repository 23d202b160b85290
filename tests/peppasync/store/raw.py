"""Raw SQL on a test store's database, for arranging what an older Peppasync may have left there."""

from __future__ import annotations

from contextlib import closing
from typing import Any


def execute(url: str, sql: str, params: tuple[Any, ...] = ()) -> None:
    """Run one statement (``?`` placeholders) on the database at ``url`` and commit it."""
    if url.startswith("sqlite:///"):
        import sqlite3

        with closing(sqlite3.connect(url[len("sqlite:///"):])) as raw:
            raw.execute(sql, params)
            raw.commit()
        return
    import psycopg

    with psycopg.connect(url, autocommit=True) as raw:
        raw.execute(sql.replace("?", "%s"), params)
