"""Python's cyclic garbage collector held off while one bundle is processed.

Why: a 10,000-indicator bundle allocates some 300,000 container objects (parsed JSON, validated
and prepared indicators, row tuples, outcomes) that stay alive until its response is sent, and
it frees them by reference counting. The collector only sees the allocation count: it ran ~285
young and ~26 middle collections and two full ones per bundle, each walking the survivors so far,
~50 ms of a ~550 ms bundle in process (``gc.callbacks``; docs/benchmarks/ingest.md). Nothing a
bundle frees needs the collector, so it waits until the bundle is done; the objects it would
have walked are then garbage anyway.

The collector is per process, and gthread workers run requests in threads, so the pause is
counted: it ends when the last hold of the process ends, and never switches on a collector that
was off before the first hold (a test, or a caller that knows better). :func:`hold` is the
same pause without a block, for a web adapter that frees a bundle's objects only once its
response is sent (``sharing.web.after_response``).
"""

from __future__ import annotations

import gc
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

# A hold nobody released in this long is dropped by the next one taken, so that a lost release
# (a response some server never closed) cannot leave the collector off for good. A bundle of
# 100,000 objects takes seconds, not minutes.
STALE_AFTER_SECONDS = 120.0

# Re-entrant: a release can run inside hold() itself, from the weakref finalizer of a response
# that a collection frees at an allocation made while the lock is held (sharing.web.after_response).
_lock = threading.RLock()
_holds: dict[int, float] = {}  # hold -> when it was taken (monotonic)
_tokens = itertools.count()
_was_enabled = False


def hold() -> Callable[[], None]:
    """Hold the collector off from now until the returned call (which may be called again,
    harmlessly), and while any other hold of the process lasts."""
    global _was_enabled
    now = time.monotonic()
    with _lock:
        _drop_stale(now)
        if not _holds:
            _was_enabled = gc.isenabled()
            gc.disable()
        token = next(_tokens)
        _holds[token] = now

    def release() -> None:
        with _lock:
            if _holds.pop(token, None) is not None and not _holds and _was_enabled:
                gc.enable()

    return release


@contextmanager
def paused() -> Iterator[None]:
    """No cyclic collection while the block runs (nor while another hold lasts)."""
    release = hold()
    try:
        yield
    finally:
        release()


def _drop_stale(now: float) -> None:
    stale = [token for token, since in _holds.items() if now - since > STALE_AFTER_SECONDS]
    for token in stale:
        _holds.pop(token, None)
    if stale:
        log.warning("dropped %d collector holds older than %.0f s", len(stale), STALE_AFTER_SECONDS)
        if not _holds and _was_enabled:
            gc.enable()
