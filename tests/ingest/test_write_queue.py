"""Do submitters on SQLite queue for the write phase, and hand it over as soon as it is free?"""

from __future__ import annotations

import stat
import threading
from pathlib import Path

from sharing import ledger
from sharing.db import Database


def test_a_second_submitter_waits_until_the_first_leaves_the_queue(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'palisade.db'}")
    first_inside, first_may_leave, second_inside = (threading.Event() for _ in range(3))

    def first() -> None:
        with ledger.queue(db):
            first_inside.set()
            first_may_leave.wait(10)

    def second() -> None:
        with ledger.queue(db):
            second_inside.set()

    threads = [threading.Thread(target=first)]
    threads[0].start()
    assert first_inside.wait(10)
    threads.append(threading.Thread(target=second))
    threads[1].start()
    assert not second_inside.wait(0.5), "the second submitter went in while the first was there"
    first_may_leave.set()
    assert second_inside.wait(10), "the second submitter never got in"
    for thread in threads:
        thread.join(10)
    db.dispose()


def test_the_queue_file_sits_beside_the_database_and_only_its_owner_may_read_it(
    tmp_path: Path,
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'palisade.db'}")
    with ledger.queue(db):
        pass
    mode = (tmp_path / "palisade.db.ingest-lock").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600
    db.dispose()


def test_a_database_without_a_file_has_no_queue_to_wait_in(tmp_path: Path) -> None:
    db = Database("sqlite://")
    with ledger.queue(db), ledger.queue(db):  # nested: would deadlock if it took a lock
        pass
    assert list(tmp_path.iterdir()) == []
    db.dispose()
