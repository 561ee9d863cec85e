"""Request bodies read whole in as few reads as the server allows (sharing/web/request.py).

The class is checked on its own app (what Werkzeug promises about ``get_data`` still holds) and
under gunicorn, whose body reader it exists for: a large bundle sent in slow pieces lands
whole, and one that stops short of its declared length is a 400 that stores nothing.
"""

from __future__ import annotations

import io
import json
import socket
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, jsonify, request
from sqlalchemy import text

from sharing.errors import InvalidInput
from sharing.web.request import PalisadeRequest, read_exactly
from tests.conftest import fresh_database_url
from tests.live import LiveServer
from tests.stix_factories import body, make_bundle, make_indicator


def _echo_app(limit: int = 8 << 20) -> Flask:
    app = Flask(__name__)
    app.request_class = PalisadeRequest
    app.config["MAX_CONTENT_LENGTH"] = limit

    @app.post("/echo")
    def echo() -> Any:
        first = request.get_data()
        again = request.get_data()
        return jsonify(length=len(first), same=first is again, head=first[:16].decode())

    @app.errorhandler(InvalidInput)
    def refused(error: InvalidInput) -> Any:
        return jsonify(message=error.message), 400

    @app.post("/form")
    def form() -> Any:
        raw = request.get_data()
        return jsonify(raw=raw.decode(), a=request.form.get("a"), b=request.form.get("b"))

    return app


def test_a_declared_body_is_read_whole_once_and_cached() -> None:
    payload = b"0123456789abcdef" * (3 << 16)  # 3 MiB
    response = _echo_app().test_client().post("/echo", data=payload)
    assert response.status_code == 200
    assert response.get_json() == {"length": len(payload), "same": True, "head": "0123456789abcdef"}


def test_a_body_of_undeclared_length_is_still_read() -> None:
    payload = b"x" * 300_000
    response = (
        _echo_app()
        .test_client()
        .post(
            "/echo",
            input_stream=io.BytesIO(payload),
            headers={"Transfer-Encoding": "chunked"},
            environ_overrides={"wsgi.input_terminated": True},
        )
    )
    assert response.status_code == 200
    assert response.get_json()["length"] == len(payload)


def test_form_fields_are_parsed_from_a_body_already_read() -> None:
    response = _echo_app().test_client().post("/form", data={"a": "1", "b": "two words"})
    assert response.get_json() == {"raw": "a=1&b=two+words", "a": "1", "b": "two words"}


def test_a_body_over_the_limit_is_a_413() -> None:
    response = _echo_app(limit=1000).test_client().post("/echo", data=b"y" * 1001)
    assert response.status_code == 413


def test_a_body_shorter_than_declared_is_a_400_that_says_so() -> None:
    response = (
        _echo_app()
        .test_client()
        .post(
            "/echo",
            input_stream=io.BytesIO(b'{"a": 1}'),
            # as gunicorn does: the server ends the stream, Werkzeug does not wrap it
            environ_overrides={"CONTENT_LENGTH": "100", "wsgi.input_terminated": True},
        )
    )
    assert response.status_code == 400
    assert response.get_json()["message"] == (
        "the request body ended after 8 of the 100 bytes its Content-Length declares"
    )


def test_read_exactly_gathers_the_short_reads_of_a_socket() -> None:
    sender, receiver = socket.socketpair()
    pieces = [bytes([i]) * 70_000 for i in range(1, 40)]

    def send() -> None:
        for piece in pieces:
            sender.sendall(piece)
            time.sleep(0.001)
        sender.close()

    threading.Thread(target=send, daemon=True).start()
    with receiver, receiver.makefile("rb", buffering=0) as stream:
        got = read_exactly(stream, sum(map(len, pieces)))
        assert got == b"".join(pieces)
        assert read_exactly(stream, 10) == b""  # the sender is gone: nothing, not a hang


def _raw_post(url: str, key: str, payload: bytes, declared: int, pieces: int) -> tuple[int, bytes]:
    parts = urlsplit(url)
    head = (
        f"POST /api/v1/bundles HTTP/1.1\r\nHost: {parts.hostname}\r\n"
        f"Authorization: Bearer {key}\r\nContent-Type: application/stix+json\r\n"
        f"Content-Length: {declared}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection((parts.hostname, parts.port), timeout=60) as sock:
        sock.sendall(head)
        step = -(-len(payload) // pieces)
        for start in range(0, len(payload), step):
            sock.sendall(payload[start : start + step])
            time.sleep(0.02)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status = int(answer.split(b"\r\n", 1)[0].split()[1])
    return status, answer.split(b"\r\n\r\n", 1)[1]


def test_under_gunicorn_a_bundle_sent_in_slow_pieces_lands_whole_and_a_short_one_is_a_400(
    backend: str, tmp_path: Any
) -> None:
    server = LiveServer(fresh_database_url(backend, tmp_path, "palisade_body"), tmp_path / "i")
    key = server.member("lab-a")
    server.start_gunicorn(workers=1)
    try:
        payload = body(make_bundle(*[make_indicator(f"b{i}@example.com") for i in range(6000)]))
        assert len(payload) > 2 << 20  # more than gunicorn's largest single read
        status, answer = _raw_post(server.url, key, payload, len(payload), pieces=25)
        assert status == 202, answer[:300]
        assert json.loads(answer)["success_count"] == 6000

        short = body(make_bundle(*[make_indicator(f"s{i}@example.com") for i in range(50)]))
        status, answer = _raw_post(server.url, key, short, len(short) + 1000, pieces=3)
        assert status == 400, answer[:300]
        assert b"Content-Length declares" in answer
        with server.db.transaction() as session:
            stored = session.execute(text("SELECT COUNT(*) FROM indicators")).scalar()
        assert stored == 6000
    finally:
        server.stop()
