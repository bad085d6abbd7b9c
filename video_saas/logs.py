"""Log lines: one JSON object per line (or readable text for local runs), with the context bound to the work.

Every process (the API, Celery workers and beat, management commands) logs through the handlers configured here:
stdout, plus LOG_FILE when it is set. Each line carries `timestamp` (UTC, ISO 8601), `level`, `logger` and `event`
(the message), then whatever is bound to the work in progress through structlog's context variables: the
`request_id` (video_saas/middleware.py, carried into Celery tasks by django-structlog's message headers and kept on
the job row), `job_id`, `step` and `provider` (video_generation/pipeline/logcontext.py), Celery's `task_id`. A
traceback is the `exception` field.

The whole rendered line goes through the one redaction rule (video_generation/services/redact.py): messages,
tracebacks and bound values alike. Redacting JSON text can, in a pathological case, break its syntax (a
credential-named field with a bare value); such a line is rendered again from its values redacted one by one, so
every line stays one valid JSON object.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from functools import partial
from typing import Any

import structlog
from structlog.stdlib import ProcessorFormatter

from video_generation.services.redact import redact

FORMATS = ("json", "text")
_WITHHELD = "[log line withheld: formatting or redaction failed]"



def _record_timestamp(logger: Any, method_name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """When the record was made (not when a handler formats it: stdout and LOG_FILE show the same time)."""
    record = event_dict.get("_record")
    created = record.created if record is not None else datetime.now(UTC).timestamp()
    event_dict["timestamp"] = datetime.fromtimestamp(created, UTC).isoformat().replace("+00:00", "Z")
    return event_dict


# Added to every line, from structlog's own loggers and from the standard library's (Django, Celery, ours) alike.
_SHARED_PROCESSORS: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
]
_dumps = partial(json.dumps, ensure_ascii=False, default=str)  # non-ASCII kept as is, so redaction sees it


def configure() -> None:
    """structlog's loggers (django-structlog's among them) hand their event dicts to the standard library's
    handlers, which render them with StructuredFormatter like every other record; Python's warnings (Celery's
    "running as root", deprecations) become records of the `py.warnings` logger instead of text on stderr."""
    logging.captureWarnings(True)
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_SHARED_PROCESSORS,
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


class StructuredFormatter(ProcessorFormatter):
    """Renders any log record as one line, JSON or text, redacted as a whole."""

    def __init__(self, *, log_format: str = "json", **kwargs: Any) -> None:
        if log_format not in FORMATS:
            raise ValueError(f"LOG_FORMAT must be one of {', '.join(FORMATS)}, not {log_format!r}")
        self.json = log_format == "json"
        self._text_renderer = structlog.dev.ConsoleRenderer(colors=False, pad_event_to=0)
        super().__init__(
            processors=[ProcessorFormatter.remove_processors_meta, structlog.processors.format_exc_info, self._render],
            foreign_pre_chain=[*_SHARED_PROCESSORS, _record_timestamp],
            **kwargs,
        )

    def format(self, record: logging.LogRecord) -> str:
        try:
            return super().format(record)
        except Exception:
            # Neither a bad record nor a rendering or redaction bug may lose the line or let unredacted text out.
            withheld = {"level": record.levelname.lower(), "logger": record.name, "event": _WITHHELD}
            return _dumps(withheld) if self.json else f"{_WITHHELD} logger={record.name}"

    def _render(self, logger: Any, method_name: str, event_dict: dict[str, Any]) -> str:
        if not self.json:
            return redact(self._text_renderer(logger, method_name, event_dict))
        line = redact(_dumps(_ordered(event_dict)))
        try:
            json.loads(line)
        except ValueError:
            line = _dumps({key: _redacted_value(value) for key, value in _ordered(event_dict).items()})
        return line


def _ordered(event_dict: dict[str, Any]) -> dict[str, Any]:
    """timestamp, level, logger and event first, for people reading the raw lines; then the rest as bound."""
    head = {key: event_dict[key] for key in ("timestamp", "level", "logger", "event") if key in event_dict}
    return {**head, **{key: value for key, value in event_dict.items() if key not in head}}


def _redacted_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(value if isinstance(value, str) else _dumps(value))


def logging_config(*, log_format: str, level: str, log_file: str = "") -> dict[str, Any]:
    """Django's LOGGING: every logger writes through the same handlers (stdout, and LOG_FILE when set), whose
    StructuredFormatter renders and redacts the line. `level` applies to our loggers, Celery's and
    django-structlog's; everything else logs warnings and above."""
    handlers = ["console"] + (["file"] if log_file else [])
    ours = {"handlers": handlers, "level": level, "propagate": False}
    config: dict[str, Any] = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"structured": {"()": StructuredFormatter, "log_format": log_format}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured",
                                 "stream": "ext://sys.stdout"}},
        "root": {"handlers": handlers, "level": "WARNING"},
        "loggers": {
            "video_generation": ours,
            "billing": ours,
            "webhooks": ours,
            "django_structlog": ours,  # task_succeeded (with its duration) and failures of Celery tasks
            "celery": {"level": level},  # a worker's own lines; they reach the root's handlers
            "django": {"handlers": handlers, "level": "INFO", "propagate": False},
            "httpx": {"level": "WARNING"},
            "stripe": {"level": "WARNING"},  # the library logs every request at INFO
        },
    }
    if log_file:
        # WatchedFileHandler reopens the file when logrotate moves it away.
        config["handlers"]["file"] = {"class": "logging.handlers.WatchedFileHandler", "filename": log_file,
                                      "formatter": "structured", "encoding": "utf-8"}
    return config
