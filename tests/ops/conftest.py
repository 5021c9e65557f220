"""Fixtures of the operations tests: the S3-compatible store (tests/s3_server.py) for /readyz."""

from tests.s3_server import s3_endpoint, s3_store  # noqa: F401 - fixtures used by name
