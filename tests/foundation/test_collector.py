"""``sharing.collector.paused``: is the cyclic collector off for exactly as long as some bundle
of the process is being processed, and left as it was found?"""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator

import pytest

from sharing import collector


@pytest.fixture(autouse=True)
def _collector_restored() -> Iterator[None]:
    was = gc.isenabled()
    yield
    (gc.enable if was else gc.disable)()


def test_the_collector_is_off_inside_and_on_again_after() -> None:
    gc.enable()
    with collector.paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_it_comes_back_on_after_an_exception_too() -> None:
    gc.enable()
    with pytest.raises(RuntimeError), collector.paused():
        raise RuntimeError("bundle failed")
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    with collector.paused():
        pass
    assert not gc.isenabled()


def test_overlapping_pauses_in_two_threads_end_with_the_last() -> None:
    gc.enable()
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, bool] = {}

    def second() -> None:
        first_in.wait()
        with collector.paused():
            second_in.set()
            first_out.wait()
            seen["after the first ended"] = gc.isenabled()

    thread = threading.Thread(target=second)
    thread.start()
    with collector.paused():
        first_in.set()
        second_in.wait()
    first_out.set()
    thread.join()
    assert seen == {"after the first ended": False}
    assert gc.isenabled()


def test_a_hold_lasts_until_released_and_a_second_release_changes_nothing() -> None:
    gc.enable()
    release = collector.hold()
    other = collector.hold()
    assert not gc.isenabled()
    release()
    release()  # again: must not end the other hold
    assert not gc.isenabled()
    other()
    assert gc.isenabled()


def test_a_hold_left_over_too_long_is_dropped_by_the_next_one(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    gc.enable()
    monkeypatch.setattr(collector, "STALE_AFTER_SECONDS", 0.05)
    collector.hold()  # never released, as if a response were never closed
    time.sleep(0.1)
    with collector.paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    assert "dropped 1 collector holds" in caplog.text


def test_a_release_run_by_the_collector_inside_hold_does_not_deadlock() -> None:
    """A response already closed (its hold released) but freed later by the collector, as
    part of a reference cycle, runs its finalizer's release at whatever allocation triggered
    that collection, possibly one inside hold() itself, where the lock is held. The child
    process makes that collection certain, and a deadlock fails this test instead of hanging
    the suite."""
    code = textwrap.dedent(
        """
        import gc, weakref
        from sharing import collector

        gc.enable()
        release = collector.hold()
        release()  # what closing the response did
        gc.collect()  # counts back to zero: nothing below collects before hold() does

        class Cyclic:
            pass

        garbage = Cyclic()
        garbage.me = garbage
        weakref.finalize(garbage, release)  # runs when the collector frees the cycle
        del garbage
        original = collector._drop_stale

        def collecting(now):  # a collection at an allocation inside hold(), made certain
            gc.collect()
            original(now)

        collector._drop_stale = collecting
        collector.hold()()
        assert gc.isenabled()
        print("ok")
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
