"""The SDK sends a request again when its connection is lost, if sending twice does no harm.

A loaded server (every gunicorn thread waiting on SQLite's write lock, docs/benchmarks/load.md)
or a restart can close a connection before answering. Between the SDK and a real server on
loopback sits a TCP relay that closes the first connections it is given without a byte in
reply, then relays the rest: bundles and matches go through on a new connection and land once;
a POST that is not safe to repeat (a sighting) is not sent again; retries are bounded.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from sharing.client import BundleBuilder, PalisadeClient, ServerUnavailable
from sharing.identifiers import ConsortiumKeyring


class DroppingRelay:
    """Loopback TCP relay to ``target`` that closes its first ``drop`` connections unanswered."""

    def __init__(self, target: str, drop: int) -> None:
        parts = urlsplit(target)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.drop = drop
        self.accepted = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            if self.accepted <= self.drop:
                client.recv(65536)  # the request arrives; no answer is ever sent
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def relay(live: Any) -> Iterator[Any]:
    relays: list[DroppingRelay] = []

    def make(drop: int) -> DroppingRelay:
        relays.append(DroppingRelay(live.url, drop))
        return relays[-1]

    yield make
    for one in relays:
        one.close()


def _bundle(keyring: ConsortiumKeyring) -> dict[str, Any]:
    builder = BundleBuilder(keyring, tlp="green", confidence=80)
    builder.add("email", "dropped.connection@example.test")
    return builder.bundle()


def test_a_bundle_whose_connection_is_dropped_is_sent_again_and_lands_once(
    live: Any, relay: Any, keyring: ConsortiumKeyring
) -> None:
    dropping = relay(drop=2)
    with PalisadeClient(dropping.url, live.member("aurora"), keyring=keyring) as client:
        result = client.submit(_bundle(keyring))
    assert dropping.accepted == 3  # two dropped, the third relayed
    assert (result.success_count, result.failure_count) == (1, 0)
    with PalisadeClient(live.url, live.member("borealis"), keyring=keyring) as asker:
        [answer] = asker.match(["dropped.connection@example.test"], kind="email")
    assert answer.matched and answer.matches[0]["reporter_count"] == 1


def test_a_match_whose_connection_is_dropped_is_asked_again(
    live: Any, relay: Any, keyring: ConsortiumKeyring
) -> None:
    dropping = relay(drop=1)
    with PalisadeClient(dropping.url, live.member("borealis"), keyring=keyring) as client:
        [answer] = client.match(["nobody@example.test"], kind="email")
    assert dropping.accepted == 2 and answer.matched is False


def test_a_post_that_is_not_safe_to_repeat_is_not_sent_again(
    live: Any, relay: Any, keyring: ConsortiumKeyring
) -> None:
    dropping = relay(drop=1)
    client = PalisadeClient(dropping.url, live.member("aurora"), keyring=keyring)
    with client, pytest.raises(ServerUnavailable) as failure:
        client._request("POST", "/api/v1/sightings", json={"items": []})
    assert failure.value.connection_lost
    assert dropping.accepted == 1


def test_retries_after_lost_connections_are_bounded(
    live: Any, relay: Any, keyring: ConsortiumKeyring
) -> None:
    dropping = relay(drop=100)
    client = PalisadeClient(dropping.url, live.member("aurora"), keyring=keyring, retries=2)
    with client, pytest.raises(ServerUnavailable) as failure:
        client.whoami()
    assert failure.value.connection_lost
    assert dropping.accepted == 3  # the first try and two retries
