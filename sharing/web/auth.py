"""API-key authentication for the REST and TAXII layers.

Accepts ``Authorization: Bearer <key>``, ``Token <key>`` and HTTP Basic with the key as the
password (what TAXII clients send). The principal is resolved once per request and cached on
``flask.g``; the lookup itself lives in :mod:`sharing.accounts.api_keys`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import g, request
from sqlalchemy.exc import OperationalError

from sharing.accounts import api_keys
from sharing.accounts.principal import Principal
from sharing.errors import Unauthenticated
from sharing.web.context import runtime

F = TypeVar("F", bound=Callable[..., Any])


def presented_key() -> str | None:
    header = request.headers.get("Authorization", "")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme in {"bearer", "token"} and value:
        return value
    if scheme == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise Unauthenticated("malformed Basic credentials") from exc
        _, sep, password = decoded.partition(":")
        if not sep or not password:
            raise Unauthenticated("Basic credentials must carry the API key as the password")
        return password
    raise Unauthenticated("unsupported Authorization scheme; use Bearer, Token or Basic")


def current_principal() -> Principal:
    principal = g.get("principal")
    if principal is not None:
        return principal  # type: ignore[no-any-return]
    key = presented_key()
    if key is None:
        raise Unauthenticated("an API key is required (Authorization: Bearer <key>)")
    db = runtime().db
    with db.connect(autocommit=True) as connection:  # one read: no transaction needed
        principal = api_keys.authenticate(connection, key, request.remote_addr)
    if principal.api_key_id is not None:
        try:
            with db.transaction(write=True) as session:
                api_keys.touch_last_used(session, principal.api_key_id)
        except OperationalError:
            pass  # advisory: a busy store must not fail the request over a timestamp
    g.principal = principal
    return principal


def require_scope(scope: str) -> Callable[[F], F]:
    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            current_principal().require_scope(scope)
            return view(*args, **kwargs)

        wrapper.required_scope = scope  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator
