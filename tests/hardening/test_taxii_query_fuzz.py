"""TAXII query strings under fuzzing: the filter parser, ``limit`` and the ``next`` token.

The parser (``sharing.taxii.protocol``) and the token check (``sharing.feeds.tokens``) see
whatever a client puts in the URL. Properties: any string for any parameter ends in our
``InvalidInput`` (a TAXII 400) or a parsed value, never another exception; what a client can
validly send round-trips into the same ``Filters``; and over HTTP the objects, manifest and
versions endpoints answer hostile query strings with a TAXII error body, never a 500.

CI runs bounded example counts; the long run is ``PALISADE_FUZZ_EXAMPLES=2000 pytest -m slow``
on this file (see docs/OPERATIONS.md). Coverage-guided runs of the same targets: tests/fuzz/.
"""

from __future__ import annotations

import contextlib
import os
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, quote_from_bytes, urlencode

import pytest
import requests
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sharing.errors import InvalidInput
from sharing.feeds import Filters, tokens
from sharing.feeds.collections import ALL, collection_id
from sharing.taxii.protocol import parse_filters, parse_limit

EXAMPLES = int(os.environ.get("PALISADE_FUZZ_EXAMPLES", "150"))
HTTP_EXAMPLES = int(os.environ.get("PALISADE_FUZZ_EXAMPLES", "40"))
FUZZ = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None
)
TAXII = {"Accept": "application/taxii+json;version=2.1"}
PARAMS = (
    "added_after",
    "limit",
    "next",
    "match[id]",
    "match[type]",
    "match[version]",
    "match[spec_version]",
)
OBJECT = "indicator--6f1d1c1e-0000-4000-8000-000000000000"
ENDPOINTS = ("objects/", "manifest/", f"objects/{OBJECT}/versions/", f"objects/{OBJECT}/")
COLLECTION = f"/taxii2/exchange/collections/{collection_id(ALL)}/"
_BARE = Flask(__name__)


def _parse(query: str, object_id: str | None = None) -> tuple[Filters, int | None]:
    with _BARE.test_request_context("/", environ_overrides={"QUERY_STRING": query}):
        return parse_filters(object_id=object_id), parse_limit()


# ---- the parser on its own -------------------------------------------------------------

hostile_text = st.one_of(
    st.text(max_size=80),
    st.text(alphabet="0123456789-:.TZ+ ", max_size=40),
    st.sampled_from(
        [
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-01:00",
            "\u00b2",
            "\u0663",
            "9" * 5000,
            "2024-01-01T00:00:00",
            "2024-13-01T00:00:00Z",
            "\x00",
            "first,,last,all",
            " , ",
        ]
    ),
)


@FUZZ
@given(pairs=st.lists(st.tuples(st.sampled_from(PARAMS), hostile_text), max_size=6))
def test_any_parameter_value_is_parsed_or_invalid_input(pairs: list[tuple[str, str]]) -> None:
    try:
        filters, limit = _parse(urlencode(pairs))
    except InvalidInput:
        return
    assert limit is None or limit >= 1
    assert filters.fingerprint()  # every parsed Filters can key a paging token
    for value in filters.versions:
        assert value in ("first", "last", "all") or (
            isinstance(value, datetime) and value.tzinfo is not None
        )


# What reaches the app as a query string: gunicorn and Werkzeug's server refuse a request
# line with raw non-ASCII bytes, so those arrive percent-encoded (valid UTF-8 or not).
raw_queries = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=200),
    st.binary(max_size=200).map(lambda b: quote_from_bytes(b, safe="&=[],%;+")),
)


@FUZZ
@given(raw=raw_queries)
def test_any_raw_query_string_is_parsed_or_invalid_input(raw: str) -> None:
    with contextlib.suppress(InvalidInput):
        _parse(raw)


def _stamp(moment: datetime) -> str:
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


moments = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)).map(
    lambda d: d.replace(tzinfo=UTC)
)
# What a client may validly put in a comma-separated match[...] value.
words = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters=","),
    min_size=1,
    max_size=40,
).filter(lambda w: w.strip() == w)


@FUZZ
@given(
    added_after=st.none() | moments,
    ids=st.lists(words, max_size=4),
    types=st.lists(words, max_size=4),
    versions=st.lists(st.sampled_from(["first", "last", "all"]) | moments, max_size=4),
    spec_versions=st.lists(words, max_size=3),
    limit=st.none() | st.integers(min_value=1, max_value=10**12),
)
def test_valid_queries_round_trip(
    added_after: datetime | None,
    ids: list[str],
    types: list[str],
    versions: list[Any],
    spec_versions: list[str],
    limit: int | None,
) -> None:
    query: list[tuple[str, str]] = []
    if added_after is not None:
        query.append(("added_after", _stamp(added_after)))
    if limit is not None:
        query.append(("limit", str(limit)))
    for name, values in (
        ("match[id]", ids),
        ("match[type]", types),
        ("match[spec_version]", spec_versions),
    ):
        if values:
            query.append((name, ",".join(values)))
    if versions:
        text = [v if isinstance(v, str) else _stamp(v) for v in versions]
        query.append(("match[version]", ",".join(text)))
    filters, parsed_limit = _parse(urlencode(query, quote_via=quote))
    assert filters == Filters(
        added_after=added_after,
        ids=tuple(ids),
        types=tuple(types),
        versions=tuple(versions) or ("last",),
        spec_versions=tuple(spec_versions),
    )
    assert parsed_limit == limit
    # The same request shape always keys the same paging scope.
    assert filters.fingerprint() == _parse(urlencode(query, quote_via=quote))[0].fingerprint()


# Found by fuzzing (each was a 500: OverflowError, int("²")) or hand-picked neighbours.
BAD_VALUES = (
    "added_after=0001-01-01T00:00:00%2B01:00",
    "added_after=9999-12-31T23:59:59-01:00",
    "match[version]=0001-01-01T00:00:00%2B05:00",
    "limit=%C2%B2",
    "limit=%D9%A3",
    "limit=0",
    "limit=000",
    "limit=-1",
    "limit=1e3",
    "added_after=2024-01-01T00:00:00",
    "added_after=%00",
    "added_after=%ED%A0%80",
    "match[version]=first,bogus",
)
BAD_TOKENS = ("next=%00", "next=a.b", "next=%FF.%FF", "next=" + "A" * 600)


@pytest.mark.parametrize("query", BAD_VALUES)
def test_hostile_values_found_by_fuzzing_are_invalid_input(query: str) -> None:
    with pytest.raises(InvalidInput):
        _parse(query)


def test_a_limit_beyond_any_page_size_is_capped_not_refused() -> None:
    assert _parse("limit=" + "9" * 5000)[1] == 10**18
    assert _parse("limit=007")[1] == 7


# ---- the next token --------------------------------------------------------------------

SECRET = b"s" * 32
# What read_page signs: a 32-hex-digit scope and a feed-log position (a BIGINT).
hex_scope = st.text(alphabet="0123456789abcdef", min_size=32, max_size=32)
positions = st.integers(min_value=-(2**63), max_value=2**63 - 1)


@FUZZ
@given(
    token=st.one_of(
        st.text(max_size=200), st.from_regex(r"[A-Za-z0-9_\-]{0,80}\.[A-Za-z0-9_\-]{0,30}")
    )
)
def test_any_next_token_is_refused_with_invalid_input(token: str) -> None:
    with pytest.raises(InvalidInput):
        tokens.verify(SECRET, token, "scope")


@FUZZ
@given(scopes=st.lists(hex_scope, min_size=2, max_size=2), after=positions)
def test_tokens_round_trip_and_bind_their_scope(scopes: list[str], after: int) -> None:
    scope, other = scopes
    token = tokens.sign(SECRET, tokens.Position(scope, after))
    assert tokens.verify(SECRET, token, scope) == after
    if other != scope:
        with pytest.raises(InvalidInput):
            tokens.verify(SECRET, token, other)
    with pytest.raises(InvalidInput):
        tokens.verify(b"t" * 32, token, scope)


# ---- over HTTP: objects, manifest, versions --------------------------------------------


def _is_taxii_400(response: Any) -> bool:
    body = response.get_json(silent=True) or {}
    return (
        response.status_code == 400
        and response.headers["Content-Type"].startswith("application/taxii+json")
        and body.get("http_status") == "400"
        and bool(body.get("title"))
    )


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("query", BAD_VALUES + BAD_TOKENS)
def test_hostile_query_strings_are_taxii_400s(
    app: Flask, exchange, endpoint: str, query: str
) -> None:  # type: ignore[no-untyped-def]
    lab = exchange.member("lab-q")
    client = app.test_client()
    response = client.get(f"{COLLECTION}{endpoint}?{query}", headers={**lab.headers, **TAXII})
    assert _is_taxii_400(response), (response.status_code, response.get_data(as_text=True)[:300])
    assert client.get("/healthz").status_code == 200


def _http_fuzz(app: Flask, headers: dict[str, str], examples: int) -> None:
    client = app.test_client()

    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(
        endpoint=st.sampled_from(ENDPOINTS),
        pairs=st.lists(st.tuples(st.sampled_from(PARAMS), hostile_text), min_size=1, max_size=4),
    )
    def run(endpoint: str, pairs: list[tuple[str, str]]) -> None:
        response = client.get(
            f"{COLLECTION}{endpoint}?{urlencode(pairs)}",
            headers={**headers, **TAXII},
        )
        assert response.status_code in (200, 400, 404), (
            pairs,
            response.status_code,
            response.get_data(as_text=True)[:300],
        )
        assert response.headers["Content-Type"].startswith("application/taxii+json")
        if response.status_code == 400:
            assert _is_taxii_400(response)

    run()


def test_fuzzed_query_strings_never_reach_a_500(app: Flask, exchange) -> None:  # type: ignore[no-untyped-def]
    _http_fuzz(app, exchange.member("lab-q").headers, HTTP_EXAMPLES)


@pytest.mark.slow
def test_fuzzed_query_strings_long(app: Flask, exchange) -> None:  # type: ignore[no-untyped-def]
    _http_fuzz(app, exchange.member("lab-q").headers, max(HTTP_EXAMPLES, 1000))


def test_hostile_query_strings_over_real_http(live) -> None:  # type: ignore[no-untyped-def]
    """The same strings through a real server and HTTP client: a TAXII 400, never a 500."""
    key = live.member("lab-q")
    headers = {"Authorization": f"Bearer {key}", **TAXII}
    with requests.Session() as http:
        for endpoint in ENDPOINTS:
            for query in BAD_VALUES + BAD_TOKENS:
                response = http.get(f"{live.url}{COLLECTION}{endpoint}?{query}", headers=headers)
                assert response.status_code == 400, (endpoint, query, response.status_code)
                assert response.headers["Content-Type"].startswith("application/taxii+json")
                assert response.json()["http_status"] == "400"
        assert http.get(live.url + "/healthz").status_code == 200
