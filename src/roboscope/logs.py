"""Log output of the server: JSON lines for machines, readable lines for a terminal.

`serve` hands `logging_config()` to uvicorn, which applies it in every worker process, so all
of them write the same way: one line per record on stderr, the request log (`roboscope.access`,
one line per request) included, uvicorn's own access log replaced by it.

Every record logged while a request is handled carries its request id (`request_id`), so an
error line can be matched to the request line and to the `X-Request-ID` the client got.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from contextvars import ContextVar
from typing import Any, Literal

LogFormat = Literal["auto", "json", "text"]
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")

ACCESS_LOGGER = "roboscope.access"

request_id: ContextVar[str | None] = ContextVar("roboscope_request_id", default=None)
"""The id of the request being handled, for every record logged meanwhile: set by the edge
(server/middleware.py) around each request. A context variable on purpose, the usual way to
tag log records: a logger call deep in any layer is not handed the request."""

# Not copied into a JSON line: the record's own attributes (the line has them in its own
# words) and uvicorn's copy of its message with terminal colours.
_RECORD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "color_message",
}


def resolve_format(log_format: LogFormat, stream: Any = None) -> Literal["json", "text"]:
    """`auto`: readable text for a person at a terminal, JSON lines for everything else."""
    if log_format != "auto":
        return log_format
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return "text" if isatty is not None and isatty() else "json"


class RequestIdFilter(logging.Filter):
    """Stamps the current request id on records that have none (set by the handler)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            current = request_id.get()
            if current is not None:
                record.request_id = current
        return True


_second: list[Any] = [None, ""]  # the last second formatted, and its text


def _timestamp(created: float) -> str:
    seconds = int(created)
    if _second[0] != seconds:
        _second[:] = [seconds, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))]
    return f"{_second[1]}.{int((created - seconds) * 1000):03d}Z"


FIELDS = "fields"
"""The record attribute holding a request line's fields, in one dict (cheaper to make and to
format than one attribute each)."""


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, then the record's extra
    fields (the request fields of a request line) and the traceback of an error."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,  # which worker process
        }
        fields = record.__dict__.get(FIELDS)
        if fields is not None:  # a request line: its fields are all there is
            line.update(fields)
            return json.dumps(line, default=str, ensure_ascii=False, separators=(",", ":"))
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_") and value is not None:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str, ensure_ascii=False, separators=(",", ":"))


class TextFormatter(logging.Formatter):
    """`time level logger: message [request_id]`, and the traceback below an error; a request
    line reads `… GET /api/v1/spaces 200 1.52 ms id=… client=127.0.0.1 token=…`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = record.__dict__.get(FIELDS)
        if fields is not None:
            token = fields.get("token_name")
            return (
                f"{text} {fields.get('duration_ms')} ms id={fields.get('request_id')} "
                f"client={fields.get('client')}" + (f" token={token}" if token else "")
            )
        rid = getattr(record, "request_id", None)
        if rid is not None:
            first, newline, rest = text.partition("\n")
            text = f"{first} [{rid}]{newline}{rest}"
        return text


def logging_config(log_format: Literal["json", "text"], level: str) -> dict[str, Any]:
    """A `logging.config.dictConfig` for the server (uvicorn's `log_config`)."""
    formatter = (
        "roboscope.logs.JsonFormatter" if log_format == "json" else "roboscope.logs.TextFormatter"
    )
    handler = {
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
        "formatter": "roboscope",
        "filters": ["request_id"],
    }
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "roboscope.logs.RequestIdFilter"}},
        "formatters": {"roboscope": {"()": formatter}},
        "handlers": {"default": handler},
        "root": {"handlers": ["default"], "level": level},
        "loggers": {
            # uvicorn configures its loggers with handlers of their own: send them to the root.
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            # The readiness probe reads the schema revision; alembic says so at info each time.
            "alembic.runtime.migration": {"level": "WARNING"},
        },
    }


def configure(log_format: LogFormat, level: str) -> None:
    """Apply the server's logging in this process (what `serve` prints before uvicorn runs)."""
    import logging.config

    logging.config.dictConfig(logging_config(resolve_format(log_format), level))
