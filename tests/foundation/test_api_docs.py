"""The API documentation page works offline: rendered on the server, no script, no CDN."""

from __future__ import annotations

import re


def test_the_docs_page_lists_every_operation_of_the_openapi_document(client):
    spec = client.get("/api/v1/openapi.json").json
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for path, item in spec["paths"].items():
        for method in item:
            if method in {"get", "post", "put", "patch", "delete"}:
                assert f"{method.upper()} {path}" in html


def test_the_docs_page_loads_nothing_from_elsewhere(client):
    html = client.get("/api/docs").get_data(as_text=True)
    assert "<script" not in html
    assert not re.search(r"(src|href)=\"https?://", html)
    css = re.search(r'href="(/api/docs/static/[^"]+)"', html).group(1)
    assert client.get(css).status_code == 200
