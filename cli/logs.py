"""Log lines for the long-running commands: one line each, no tracebacks.

The SDK logs every failed activity attempt with its traceback; a retried 503 is routine here,
so the line keeps the activity, the attempt and the error, and drops the stack.
"""

import logging
import sys
from typing import Any


class OneLine(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        activity: dict[str, Any] | None = getattr(record, "temporal_activity", None)
        if activity:
            message = message.split(" ({", 1)[0]
            message = (
                f"{activity.get('activity_type')} attempt {activity.get('attempt')} "
                f"({activity.get('workflow_id')}): {message}"
            )
        if record.exc_info and record.exc_info[1] is not None:
            message += f": {record.exc_info[1]}"
        return f"{self.formatTime(record, '%H:%M:%S')} {record.levelname.lower()} {message}"


def one_line_logging(level: int = logging.WARNING) -> None:
    """Send log records to stderr as single lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLine())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
