"""On SQLite, does a match's audit row queue with the bundle submitters for the write lock?"""

from __future__ import annotations

import threading

from sharing import ledger
from tests.matching.conftest import Exchange
from tests.matching.test_exact_and_ip import h
from tests.stix_factories import make_indicator


def test_a_match_waits_for_a_writer_in_the_queue_and_then_answers(exchange: Exchange) -> None:
    alice, bob = exchange.member("alice"), exchange.member("bob")
    exchange.submit(alice, make_indicator("queued@evil.test"))
    if ledger._lock_path(exchange.rt.db) is None:
        # PostgreSQL: the audit row is a plain INSERT; nobody queues on a file.
        assert exchange.rt.db.dialect == "postgresql"
        return
    item = {"kind": "email", "value": h("email", "queued@evil.test")}
    answers: list[bool] = []
    asked = threading.Thread(target=lambda: answers.append(exchange.ask(bob, item)[0]["matched"]))
    with ledger.queue(exchange.rt.db, bundle=True):
        asked.start()
        asked.join(0.5)
        assert asked.is_alive(), "the match appended its audit row past a writer in the queue"
    asked.join(10)
    assert answers == [True]
