# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Glance's WSGI app for the lab, with SQLite transactions that start as BEGIN IMMEDIATE.

oslo.db opens every SQLite transaction with a plain (deferred) BEGIN. A transaction that reads and
then writes while another thread has written meanwhile gets "database is locked" at once, whatever
the busy timeout: Glance answers HTTP 500 as soon as two clients update images together
(glance_manager --jobs 4). BEGIN IMMEDIATE takes the write lock up front, so such transactions wait
(up to the connection's 30 s timeout) instead. Production Glance runs on MySQL or PostgreSQL and
never sees this; the lab runs one gunicorn worker, so its database traffic is all in this process.
"""

from sqlalchemy import event
from sqlalchemy.engine import Engine


@event.listens_for(Engine, "begin")
def _begin_immediate(conn):  # type: ignore[no-untyped-def]
    # Class-level listeners run before oslo.db's per-engine one, which skips its own BEGIN when
    # it finds this marker (oslo_db.sqlalchemy.engines._init_events).
    if conn.dialect.name == "sqlite" and "in_transaction" not in conn.info:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        conn.info["in_transaction"] = True


from glance.wsgi.api import application  # noqa: E402  (after the listener is in place)

__all__ = ["application"]
