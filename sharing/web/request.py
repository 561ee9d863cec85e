"""The app's request class: request bodies read in as few reads as the server allows.

Why: Werkzeug's ``get_data`` reads a body 64 KiB at a time, and gunicorn's body reader answers
each such read from a read-ahead buffer of up to 1 MiB that it copies out and back on every
call. Timed in a worker around ``get_data`` for a 4.7 MB bundle: median ~12.4 ms that way,
~10 ms when the declared length is asked for at once (4-15 ms; most of what is left is the
transfer itself; docs/benchmarks/ingest.md). A body that ends before its declared length is a
400 here; before, gunicorn handed over whatever had arrived, and a truncation that happened to
leave valid JSON was processed. Everything else is Werkzeug's: the size limit
(``MAX_CONTENT_LENGTH`` answers 413 before a byte is read), the cache that form parsing and
later ``get_data`` calls read from, and bodies of undeclared length.
"""

from __future__ import annotations

from typing import Any

from flask import Request

from sharing.errors import InvalidInput


class PalisadeRequest(Request):
    def get_data(  # type: ignore[override]
        self, cache: bool = True, as_text: bool = False, parse_form_data: bool = False
    ) -> Any:
        length = self.content_length
        if parse_form_data or not length or getattr(self, "_cached_data", None) is not None:
            return super().get_data(cache=cache, as_text=as_text, parse_form_data=parse_form_data)
        body = read_exactly(self.stream, length)
        if len(body) != length:
            # gunicorn hands over what arrived before the client stopped sending; a body cut
            # short is not the one the client meant, however well it happens to parse.
            raise InvalidInput(
                f"the request body ended after {len(body)} of the {length} bytes its "
                "Content-Length declares"
            )
        if cache:
            # Werkzeug's own cache: form parsing and later calls read the body from it.
            self._cached_data = body
        return body.decode(errors="replace") if as_text else body


def read_exactly(stream: Any, length: int) -> bytes:
    """``length`` bytes of ``stream``, in reads of what is still missing; fewer if the stream
    ends first (the caller decides what a short body means)."""
    parts: list[bytes] = []
    missing = length
    while missing > 0:
        chunk = stream.read(missing)
        if not chunk:
            break
        parts.append(chunk)
        missing -= len(chunk)
    return parts[0] if len(parts) == 1 else b"".join(parts)
