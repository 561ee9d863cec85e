"""Python's cyclic garbage collector held off while one bundle is processed.

Why: a 10,000-indicator bundle allocates some 300,000 container objects (parsed JSON, validated
and prepared indicators, row tuples, outcomes) that stay alive until its response is sent, and
it frees them by reference counting. The collector only sees the allocation count: it ran ~285
young and ~26 middle collections and two full ones per bundle, each walking the survivors so far,
~50 ms of a ~550 ms bundle in process (``gc.callbacks``; docs/benchmarks/ingest.md). Nothing a
bundle frees needs the collector, so it waits until the bundle is done; the objects it would
have walked are then garbage anyway.

The collector is per process, and gthread workers run requests in threads, so the pause is
counted: it ends when the last paused bundle of the process ends, and never switches on a
collector that was off before the first pause (a test, or a caller that knows better).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def paused() -> Iterator[None]:
    """No cyclic collection while the block runs (nor while another thread's pause runs)."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
