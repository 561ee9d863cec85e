"""Request-scoped access to the Runtime, for views."""

from __future__ import annotations

from flask import current_app

from sharing.runtime import Runtime


def runtime() -> Runtime:
    return current_app.extensions["palisade"]  # type: ignore[no-any-return]
