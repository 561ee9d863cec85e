"""A bundle's working objects freed after its response is sent, not before.

Why: when the ingest service returns, reference counting frees what the bundle was made of (the
parsed JSON, the validated and prepared indicators, the writer's maps): ~12 ms of a
10,000-indicator bundle, timed in the worker, all of it before the status could be sent. The
doors that take bundles (REST, TAXII, the portal's JSON submit) hand the service a list to keep
those objects in (``submit_bundle(keep=...)``) and empty it once the server has sent the
response and closes it. The cyclic collector stays held off until then (``sharing.collector``):
switched on with those objects still alive, its next young collection would walk all of them.

The server closing the response is what PEP 3333 promises; should a response never be closed
(a test client that does not), it is released when the response object is freed, and a hold
left over for minutes is dropped by the next one (``collector.STALE_AFTER_SECONDS``).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Response

from sharing import collector


class AfterResponse:
    """Objects to free once the response is out; the collector is held off until then."""

    def __init__(self) -> None:
        self.keep: list[object] = []
        self.attached = False
        self._resume = collector.hold()

    def attach(self, response: Response) -> Response:
        """Free what ``keep`` holds when ``response`` is closed (or freed)."""
        response.call_on_close(self.release)
        weakref.finalize(response, self.release)
        self.attached = True
        return response

    def release(self) -> None:
        self.keep.clear()
        self._resume()


@contextmanager
def freed_after_response() -> Iterator[AfterResponse]:
    """An :class:`AfterResponse` that is released at once unless a response was attached
    (an exception, or an early return without one)."""
    after = AfterResponse()
    try:
        yield after
    finally:
        if not after.attached:
            after.release()
