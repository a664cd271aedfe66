"""A database outage logs one traceback per half minute, not one per failed job."""

from __future__ import annotations

import logging
import sys

import pytest
from django.db import OperationalError

from pagedesk.ops.outage_log import OutageFilter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _record(
    error: BaseException | None, msg: str = "Unhandled exception in task %s"
) -> logging.LogRecord:
    exc_info = None
    if error is not None:
        try:
            raise error
        except BaseException:
            exc_info = sys.exc_info()
    return logging.LogRecord("huey", logging.ERROR, __file__, 1, msg, ("job-1",), exc_info)


def test_repeats_of_a_connection_error_are_counted_not_logged() -> None:
    clock = Clock()
    quiet = OutageFilter(window=30, clock=clock)
    first = _record(OperationalError("connection refused"))
    assert quiet.filter(first)
    assert first.getMessage().startswith("Unhandled exception in task job-1; repeats")
    assert [quiet.filter(_record(OperationalError("refused"))) for _ in range(279)] == [False] * 279
    clock.now += 31
    later = _record(OperationalError("refused"))
    assert quiet.filter(later)
    assert "(279 more since the last one logged)" in later.getMessage()
    assert later.exc_info is not None, "the traceback is still there"


def test_other_records_pass_untouched_even_during_an_outage() -> None:
    quiet = OutageFilter(window=30, clock=Clock())
    assert quiet.filter(_record(OperationalError("down")))
    for other in (_record(ValueError("a bug")), _record(None, "event %s failed")):
        assert quiet.filter(other)
        assert "repeats" not in other.getMessage()


@pytest.mark.parametrize("name", ["InterfaceError", "ConnectionError", "TimeoutError"])
def test_a_wrapped_connection_error_counts_too(name: str) -> None:
    quiet = OutageFilter(window=30, clock=Clock())
    cause = type(name, (Exception,), {})("gone")
    wrapped = RuntimeError("job failed")
    wrapped.__cause__ = cause
    assert quiet.filter(_record(wrapped))
    assert not quiet.filter(_record(wrapped))
