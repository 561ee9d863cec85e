"""Palisade: a cross-company exchange for hashed indicators of model-distillation campaigns.

The package is split so that the domain (identifiers, crypto, models, services) never imports
Flask; the HTTP layers (``api``, ``taxii``, ``portal``) and the ``cli`` are thin adapters over it.
``create_app`` lives in :mod:`sharing.web.app` and is re-exported here lazily so that importing the
member-side toolkit (``sharing.identifiers``, ``sharing.client``) never pulls in the server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["create_app"]


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the WSGI application; see :func:`sharing.web.app.create_app`."""
    from sharing.web.app import create_app as _create_app

    return _create_app(config)
