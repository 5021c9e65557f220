"""Django's PostgreSQL backend behind PgBouncer in transaction pooling mode
(``DATABASE_POOLER=pgbouncer-transaction``, settings.py; docs/deploy.md).

One change: a streaming read (``QuerySet.iterator()``, the exports' ``stream_rows``) made
outside a transaction gets an ordinary cursor. Django would declare a ``WITH HOLD``
server-side cursor, which stays on the server connection that declared it, and PgBouncer
sends the next fetch to whichever server connection is free: "cursor does not exist".
Inside a transaction the whole read runs on one server connection, so it keeps its
server-side cursor (and its flat memory): exports and the import's lookups read so.
Django's ``DISABLE_SERVER_SIDE_CURSORS`` would turn them off there too.
"""

from __future__ import annotations

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def chunked_cursor(self):
        if self.get_autocommit():  # no transaction: the cursor would have to be held
            return self.cursor()
        return super().chunked_cursor()
