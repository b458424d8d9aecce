"""Logs of every process: one JSON object per line, or plain text for a person.

JSON (``FOOTFALL_LOG_FORMAT=json``, the default; python-json-logger) carries the time, level,
logger, message, the ``process`` and whatever the call passed in ``extra`` — topic,
partition, offset, event ids, the collector's request id — as fields of their own, so a log
pipeline can filter on them. Text (``FOOTFALL_LOG_FORMAT=text``, what ``footfall up`` and the
tests' stacks ask for) is the same line for a terminal, extras appended as ``key=value``.
"""

from __future__ import annotations

import logging
import logging.config
from typing import Any, Literal

LogFormat = Literal["json", "text"]

STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "process_name"}
"""Attributes every record has: anything else on a record came from ``extra``."""


class TextFormatter(logging.Formatter):
    """The classic line, then the record's extras as ``key=value``."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = {k: v for k, v in record.__dict__.items() if k not in STANDARD}
        if not extras:
            return line
        return line + " " + " ".join(f"{key}={value}" for key, value in sorted(extras.items()))


def logging_config(process: str, log_format: LogFormat, level: str = "INFO") -> dict[str, Any]:
    """Pure. A ``logging.config.dictConfig`` for one process (Faust's worker takes it too)."""
    formatter: dict[str, Any]
    if log_format == "json":
        formatter = {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            "static_fields": {"process": process},
        }
    else:
        formatter = {
            "()": TextFormatter,
            "fmt": f"%(asctime)s {process} %(name)s %(levelname)s %(message)s",
        }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"footfall": formatter},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "footfall"}},
        "root": {"level": level, "handlers": ["stderr"]},
    }


def configure_logging(process: str, log_format: LogFormat, level: str = "INFO") -> None:
    logging.config.dictConfig(logging_config(process, log_format, level))
