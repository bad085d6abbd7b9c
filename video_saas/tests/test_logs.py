"""Log lines: one JSON object each, with the fields every line has, redacted as a whole; LOG_FILE gets the same."""

import json
import logging
import os
import secrets
import subprocess
import sys

import pytest
import structlog

from devstack.stack import REPO
from video_saas.logs import StructuredFormatter

SIGNED_URL = "https://storage.googleapis.com/bucket/jobs/1/final.mp4?X-Goog-Signature=0a1b2c3d4e5f60718293"
API_KEY = "vsk_live_Q2hlY2tzdW1TZWNyZXRLZXkxMjM0NTY3"


def record(message: str, *args, name: str = "video_generation.pipeline", level: int = logging.INFO,
           exc_info=None) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, args, exc_info)


def rendered(formatter: StructuredFormatter, rec: logging.LogRecord) -> dict:
    return json.loads(formatter.format(rec))


def test_a_standard_library_line_is_one_json_object_with_timestamp_level_logger_and_event():
    line = StructuredFormatter(log_format="json").format(record("job %s: step %s succeeded", "j-1", "compose"))

    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["event"] == "job j-1: step compose succeeded"
    assert parsed["level"] == "info" and parsed["logger"] == "video_generation.pipeline"
    assert parsed["timestamp"].endswith("Z")
    assert list(parsed)[:4] == ["timestamp", "level", "logger", "event"]


def test_the_fields_bound_to_the_work_are_on_the_line():
    with structlog.contextvars.bound_contextvars(request_id="req-12345678", job_id="j-1", step="veo:c0:s0"):
        parsed = rendered(StructuredFormatter(), record("submitted"))

    assert (parsed["request_id"], parsed["job_id"], parsed["step"]) == ("req-12345678", "j-1", "veo:c0:s0")


def test_a_structlog_line_is_rendered_the_same_way(log_lines):
    structlog.get_logger("django_structlog.celery.receivers").error("task_failed", duration_ms=12)

    (line,) = [line for line in log_lines() if line["event"] == "task_failed"]
    assert line["level"] == "error" and line["logger"] == "django_structlog.celery.receivers"
    assert line["duration_ms"] == 12 and line["timestamp"]


def test_a_signed_url_and_a_key_in_the_message_are_redacted():
    parsed = rendered(StructuredFormatter(), record("fetched %s with %s", SIGNED_URL, API_KEY))

    assert "0a1b2c3d4e5f60718293" not in json.dumps(parsed) and API_KEY not in json.dumps(parsed)
    assert parsed["event"].startswith("fetched https://storage.googleapis.com/bucket/jobs/1/final.mp4?[redacted]")


def test_a_secret_in_an_exception_traceback_is_redacted():
    try:
        raise RuntimeError(f"provider said: Authorization: Bearer {API_KEY}")
    except RuntimeError:
        parsed = rendered(StructuredFormatter(), record("poll raised", level=logging.ERROR, exc_info=sys.exc_info()))

    assert "Traceback" in parsed["exception"] and "RuntimeError" in parsed["exception"]
    assert API_KEY not in parsed["exception"] and "[redacted]" in parsed["exception"]


def test_a_secret_in_a_bound_field_value_is_redacted(settings):
    settings.HEYGEN_API_KEY = "hg_" + secrets.token_hex(16)
    with structlog.contextvars.bound_contextvars(url=SIGNED_URL, upstream=f"key {settings.HEYGEN_API_KEY}"):
        line = StructuredFormatter().format(record("request"))

    assert "0a1b2c3d4e5f60718293" not in line and settings.HEYGEN_API_KEY[3:20] not in line
    assert json.loads(line)["url"] == "https://storage.googleapis.com/bucket/jobs/1/final.mp4?[redacted]"


def test_a_line_whose_redaction_would_break_the_json_is_redacted_value_by_value():
    with structlog.contextvars.bound_contextvars(password=12345678, note=f"see {SIGNED_URL}"):
        parsed = rendered(StructuredFormatter(), record("login"))

    assert parsed["event"] == "login" and parsed["password"] == 12345678  # a number: nothing secret in it
    assert parsed["note"] == "see https://storage.googleapis.com/bucket/jobs/1/final.mp4?[redacted]"


def test_text_lines_are_redacted_too():
    line = StructuredFormatter(log_format="text").format(record("fetched %s", SIGNED_URL))

    assert "0a1b2c3d4e5f60718293" not in line and "final.mp4?[redacted]" in line and "video_generation" in line


def test_a_record_that_cannot_be_formatted_is_withheld_not_lost():
    line = StructuredFormatter().format(record("%d steps", "not a number"))

    assert json.loads(line) == {"level": "info", "logger": "video_generation.pipeline",
                                "event": "[log line withheld: formatting or redaction failed]"}


def test_an_unknown_format_is_refused():
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        StructuredFormatter(log_format="xml")


def process_logs(tmp_path, **env) -> tuple[list[str], list[str]]:
    """(stdout lines, LOG_FILE lines) of a Django process that logs a few lines, with production settings."""
    script = ("import django, logging, structlog; django.setup(); "
              "structlog.contextvars.bind_contextvars(request_id='req-12345678'); "
              "logging.getLogger('video_generation.x').info('fetched %s', " + repr(SIGNED_URL) + "); "
              "logging.getLogger('celery.worker').info('celery line'); "
              "logging.getLogger('django.request').warning('Not Found: /x')")
    log_file = tmp_path / "service.log"
    process_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "video_saas.settings", "DEBUG": "false",
                   "SECRET_KEY": secrets.token_urlsafe(64), "LOG_FILE": str(log_file), **env}
    process_env.pop("LOG_FORMAT", None) if "LOG_FORMAT" not in env else None
    run = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=process_env, capture_output=True, text=True,
                         timeout=60, check=True)
    return run.stdout.splitlines(), log_file.read_text().splitlines()


def test_a_production_process_writes_json_lines_to_stdout_and_the_same_lines_to_log_file(tmp_path):
    stdout, file_lines = process_logs(tmp_path)

    assert stdout == file_lines
    assert [json.loads(line)["event"] for line in stdout] == [
        "fetched https://storage.googleapis.com/bucket/jobs/1/final.mp4?[redacted]", "celery line", "Not Found: /x"]
    assert all(json.loads(line)["request_id"] == "req-12345678" for line in stdout)


def test_log_format_text_writes_readable_lines(tmp_path):
    stdout, file_lines = process_logs(tmp_path, LOG_FORMAT="text")

    assert stdout == file_lines and len(stdout) == 3
    assert "fetched https://storage.googleapis.com/bucket/jobs/1/final.mp4?[redacted]" in stdout[0]
    assert "request_id=req-12345678" in stdout[0] and not stdout[0].startswith("{")
