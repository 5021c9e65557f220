"""Logging of refused requests: one warning line each, without a traceback.

Kept apart from errors.py because logging is configured before the apps are loaded, so this
module must not import any model.
"""

import logging


class RefusalsWithoutTraceback(logging.Filter):
    """Log a refused request (a 4xx such as a 403) as its one warning line, without the
    traceback Django attaches: a refusal is the app working, not an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if status is not None and status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
