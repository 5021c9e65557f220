"""Django's PostgreSQL backend for PgBouncer in transaction pooling mode (``base.py``)."""
