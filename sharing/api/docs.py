"""``/api/docs``: the OpenAPI document rendered as a readable page, with no JavaScript or CDN.

Member networks are locked down, so the usual Swagger UI from a CDN is not an option; the page
is rendered on the server from the same document served at ``/api/v1/openapi.json``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template

blueprint = Blueprint(
    "api_docs",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/api/docs/static",
)

METHODS = ("get", "post", "put", "patch", "delete")


def _operations(spec: dict[str, Any]) -> list[dict[str, Any]]:
    operations = []
    for path, item in sorted(spec.get("paths", {}).items()):
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            operations.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": operation.get("summary", ""),
                    "description": operation.get("description", ""),
                    "tags": operation.get("tags", []),
                    "parameters": item.get("parameters", []) + operation.get("parameters", []),
                    "request": sorted((operation.get("requestBody") or {}).get("content", {})),
                    "responses": sorted(operation.get("responses", {}).items()),
                }
            )
    return operations


@blueprint.get("/api/docs")
def docs() -> str:
    spec = current_app.extensions["palisade_api"].spec.to_dict()
    return render_template(
        "api_docs.html",
        info=spec.get("info", {}),
        operations=_operations(spec),
        schemas=sorted(spec.get("components", {}).get("schemas", {}).items()),
    )
