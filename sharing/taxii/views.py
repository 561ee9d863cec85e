"""TAXII 2.1 endpoints under ``/taxii2/``: parse, call one feeds/ingest service, render.

One API root (``/taxii2/exchange/``). Every endpoint needs an API key; collections a caller
cannot see answer 404 exactly like ones that do not exist. Routes accept paths with and
without the trailing slash (the OASIS client polls status without it).
"""

from __future__ import annotations

from dataclasses import replace

from flask import Blueprint, Response, request, url_for

from sharing import feeds, ingest
from sharing.errors import Forbidden
from sharing.taxii.protocol import (
    TAXII_MEDIA_TYPE,
    check_accept,
    check_content_type,
    page_headers,
    parse_filters,
    parse_limit,
    respond,
)
from sharing.web.after_response import freed_after_response
from sharing.web.auth import current_principal, require_scope
from sharing.web.context import runtime

API_ROOT = "exchange"
blueprint = Blueprint("taxii", __name__, url_prefix="/taxii2")
COLLECTION = f"/{API_ROOT}/collections/<collection_id>/"


def route(rule: str, **options: object):  # type: ignore[no-untyped-def]
    return blueprint.route(rule, strict_slashes=False, **options)  # type: ignore[arg-type]


@blueprint.before_request
def _negotiate() -> None:
    check_accept()
    current_principal()


@blueprint.after_request
def _media_type(response: Response) -> Response:
    response.headers["Content-Type"] = TAXII_MEDIA_TYPE
    return response


@route("/")
def discovery() -> Response:
    root = url_for("taxii.api_root", _external=True)
    rt = runtime()
    return respond(
        {
            "title": f"{rt.settings.exchange_name} TAXII 2.1",
            "description": "Hashed indicators of model-distillation campaigns, shared between "
            "member labs.",
            "default": root,
            "api_roots": [root],
        }
    )


@route(f"/{API_ROOT}/")
def api_root() -> Response:
    rt = runtime()
    return respond(
        {
            "title": f"{rt.settings.exchange_name} exchange",
            "description": "Canonical indicators, context objects and the exchange's identity "
            "and extension definitions, per sharing scope.",
            "versions": [TAXII_MEDIA_TYPE],
            "max_content_length": rt.settings.max_content_length,
        }
    )


@route(f"/{API_ROOT}/status/<status_id>/")
@require_scope("write")
def status(status_id: str) -> Response:
    return respond(ingest.get_status(runtime(), current_principal(), status_id))


@route(f"/{API_ROOT}/collections/")
def collections() -> Response:
    found = feeds.list_collections(runtime(), current_principal())
    return respond({"collections": [c.as_taxii() for c in found]})


@route(COLLECTION)
def collection(collection_id: str) -> Response:
    return respond(feeds.find_collection(runtime(), current_principal(), collection_id).as_taxii())


def _headers(page: feeds.Page) -> dict[str, str]:
    return page_headers(page.date_added_first, page.date_added_last)


def _page(collection_id: str, endpoint: str, filters: feeds.Filters) -> feeds.Page:
    return feeds.read_page(
        runtime(),
        current_principal(),
        collection_id,
        endpoint,
        filters,
        limit=parse_limit(),
        token=request.args.get("next"),
    )


@route(COLLECTION + "objects/", methods=["GET"])
def get_objects(collection_id: str) -> Response:
    page = _page(collection_id, "objects", parse_filters())
    return respond(
        page.envelope(), headers=page_headers(page.date_added_first, page.date_added_last)
    )


@route(COLLECTION + "objects/", methods=["POST"])
def add_objects(collection_id: str) -> Response:
    check_content_type()
    rt, principal = runtime(), current_principal()
    target = feeds.find_collection(rt, principal, collection_id)
    if not target.can_write:
        raise Forbidden("this collection does not accept objects from this credential")
    with freed_after_response() as after:
        # A TAXII envelope or a bundle, parsed once by the service.
        report = ingest.submit_bundle(
            rt, principal, request.get_data(), keep=after.keep, envelope=True
        )
        after.keep.append(report)
        return after.attach(respond(report.as_taxii(), 202))


@route(COLLECTION + "objects/<object_id>/", methods=["GET"])
def get_object(collection_id: str, object_id: str) -> Response:
    rt, principal = runtime(), current_principal()
    page = _page(collection_id, "objects", parse_filters(object_id=object_id))
    if not page.entries and "next" not in request.args:
        feeds.require_object(rt, principal, collection_id, object_id)
    return respond(
        page.envelope(), headers=page_headers(page.date_added_first, page.date_added_last)
    )


@route(COLLECTION + "objects/<object_id>/", methods=["DELETE"])
def delete_object(collection_id: str, object_id: str) -> Response:
    feeds.withdraw(runtime(), current_principal(), collection_id, object_id)
    return respond(None)


@route(COLLECTION + "manifest/")
def manifest(collection_id: str) -> Response:
    page = _page(collection_id, "manifest", parse_filters())
    return respond(
        page.manifest(), headers=page_headers(page.date_added_first, page.date_added_last)
    )


@route(COLLECTION + "objects/<object_id>/versions/")
def versions(collection_id: str, object_id: str) -> Response:
    filters = replace(parse_filters(object_id=object_id), versions=("all",))
    page = _page(collection_id, "versions", filters)
    if not page.entries and "next" not in request.args:
        feeds.require_object(runtime(), current_principal(), collection_id, object_id)
    return respond(
        page.versions(), headers=page_headers(page.date_added_first, page.date_added_last)
    )
