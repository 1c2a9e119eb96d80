"""The studio's log lines: plain text on a laptop, one JSON object a line on a server (set by
LOG_FORMAT), with the code of the job a line is about on every line written while the studio
works on that job (`with logs.about(code):`), whichever module wrote it."""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

_job: contextvars.ContextVar[str] = contextvars.ContextVar("studio_job", default="")


@contextlib.contextmanager
def about(job_code) -> Iterator[None]:
    """Every log line written inside names this job (threads and tasks each have their own)."""
    token = _job.set(str(job_code))
    try:
        yield
    finally:
        _job.reset(token)


class JobContext(logging.Filter):
    """Puts the current job's code on the record as `job` ("" when the line is about none)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "job", ""):
            record.job = _job.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, job, and the
    exception's traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        job = getattr(record, "job", "")
        if job:
            line["job"] = job
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:  # as the secrets filter left it: redacted
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False)


class PlainFormatter(logging.Formatter):
    """The laptop's lines, with `[job <code>]` when a line is about a job."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        job = getattr(record, "job", "")
        return f"{text} [job {job}]" if job else text
