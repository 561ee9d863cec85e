"""One autocommit database connection per request for the hot read paths (PostgreSQL).

Authentication runs before the view (the rate limiter needs the member), and a match then
looks up and appends its audit row; each used to check a connection out of the pool, with a
pre-ping round trip each time. Opening :meth:`Database.shared_autocommit` around the whole
request lets both use the same connection. Transactions (``db.transaction``) are unaffected.
"""

from __future__ import annotations

from contextlib import ExitStack

from flask import Flask, g

from sharing.web.context import runtime

_KEY = "_palisade_connection_scope"


def _open() -> None:
    stack = ExitStack()
    stack.enter_context(runtime().db.shared_autocommit())
    setattr(g, _KEY, stack)


def _close(_error: BaseException | None) -> None:
    stack = g.pop(_KEY, None)
    if stack is not None:
        stack.close()


def init_app(app: Flask) -> None:
    # Before every other before_request: the rate limiter authenticates there.
    app.before_request_funcs.setdefault(None, []).insert(0, _open)
    app.teardown_request(_close)
