"""``PalisadeClient``: talk to a Palisade server without a raw identifier leaving the lab.

REST calls (submit, status, match, range) go through one ``requests`` session with timeouts
and turn every failure into an exception that carries the server's own message.  TAXII calls
(push, incremental pull) use the OASIS ``taxii2-client`` over that same session, so they get
the same authentication, timeouts and error handling.  Values to match are normalised and
hashed here with the member's consortium keyring; the server only ever sees hashes.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from taxii2client.common import TAXIIServiceException, _HTTPConnection
from taxii2client.v21 import ApiRoot, Collection, Server, as_pages

from sharing.identifiers import (
    MINHASH_THRESHOLD,
    ConsortiumKeyring,
    InvalidIdentifier,
    covering_prefixes,
    hash_identifier,
    hash_value,
)

from .bundle import chunk_objects, load_bundle
from .errors import (
    ApiError,
    AuthenticationError,
    EndpointNotFound,
    PalisadeClientError,
    PermissionDenied,
    RowRejected,
    ServerUnavailable,
    SubmissionTimeout,
)
from .rows import RowHasher, guess_kind

__all__ = ["MatchResult", "PalisadeClient", "RangeResult", "SubmitResult"]

USER_AGENT = "palisade-client/0.1"
STIX_MEDIA_TYPE = "application/stix+json;version=2.1"
TAXII_MEDIA_TYPE = "application/taxii+json;version=2.1"
PULL_STATE_FORMAT = "palisade-pull-state/1"
#: Chunk limits for submissions; the server's defaults are 100,000 objects and 20 MiB.
DEFAULT_CHUNK_OBJECTS = 10_000
DEFAULT_CHUNK_BYTES = 8 * 1024 * 1024
#: The server answers at most 10,000 match items per request.
MATCH_BATCH = 2_000


@dataclass
class SubmitResult:
    """The combined TAXII-shaped status of one or more submitted chunks."""

    statuses: list[dict[str, Any]] = field(default_factory=list)

    def _sum(self, name: str) -> int:
        return sum(int(s.get(name) or 0) for s in self.statuses)

    @property
    def status_ids(self) -> list[str]:
        return [str(s.get("id")) for s in self.statuses]

    @property
    def total_count(self) -> int:
        return self._sum("total_count")

    @property
    def success_count(self) -> int:
        return self._sum("success_count")

    @property
    def failure_count(self) -> int:
        return self._sum("failure_count")

    @property
    def pending_count(self) -> int:
        return self._sum("pending_count")

    @property
    def failures(self) -> list[dict[str, Any]]:
        return [f for s in self.statuses for f in s.get("failures") or []]

    @property
    def ok(self) -> bool:
        return self.failure_count == 0 and self.pending_count == 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "status_ids": self.status_ids,
            "total_count": self.total_count,
            "success_count": self.success_count,
            "failure_count": self.failure_count,
            "pending_count": self.pending_count,
            "failures": self.failures,
        }


@dataclass
class MatchResult:
    """The answer for one queried value.  ``query`` is the raw value and stays local."""

    index: int
    kind: str
    query: str
    matched: bool = False
    matches: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    def as_dict(self, *, include_query: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "kind": self.kind}
        if include_query:
            out["query"] = self.query
        out.update(matched=self.matched, matches=self.matches)
        if self.error:
            out["error"] = self.error
        return out


@dataclass
class RangeResult:
    """A k-anonymity lookup: the server saw only ``prefixes`` (5 hex digits each)."""

    kind: str
    matched: bool
    prefixes: list[str]
    candidates: int
    matched_key_ids: list[str] = field(default_factory=list)


class _Session(requests.Session):
    """A session with a default timeout that remembers the last response (TAXII headers)."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.default_timeout = timeout
        self.last_response: requests.Response | None = None

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", self.default_timeout)
        try:
            response = super().request(method, url, *args, **kwargs)
        except requests.Timeout as exc:
            raise ServerUnavailable(f"{method} {url} timed out ({exc})") from None
        except requests.ConnectionError as exc:
            raise ServerUnavailable(f"cannot reach {url}: {exc}", connection_lost=True) from None
        self.last_response = response
        return response


def _error_for(response: requests.Response) -> PalisadeClientError:
    status = response.status_code
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text[:500]
    error = details = None
    if isinstance(body, dict):
        # REST: {"error", "message", "details"}; TAXII: {"title", "description", "details"}.
        error = body.get("error") or body.get("title")
        message = body.get("message") or body.get("description") or error or response.reason
        details = body.get("details")
    else:
        message = (body or response.reason or "").strip() or f"HTTP {status}"
    message = str(message)
    if status >= 500:
        return ServerUnavailable(f"server error {status} at {response.url}: {message}", status)
    cls = {401: AuthenticationError, 403: PermissionDenied, 404: EndpointNotFound}.get(
        status, ApiError
    )
    return cls(status, message, error=error, details=details, url=response.url, body=body)


class PalisadeClient:
    """A member's connection to one Palisade server.

    ``keyring`` (the consortium key file, :func:`sharing.identifiers.load_keyring`) is only
    needed for :meth:`match` and :meth:`range_check`, which hash raw values locally.
    """

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        keyring: ConsortiumKeyring | None = None,
        timeout: float = 60.0,
        verify: bool | str = True,
        retries: int = 3,
        default_region: str = "US",
    ) -> None:
        if not url:
            raise PalisadeClientError("no server URL (set --url or PALISADE_URL)")
        if not api_key:
            raise PalisadeClientError("no API key (set --api-key or PALISADE_API_KEY)")
        self.url = url.rstrip("/")
        self.keyring = keyring
        self.retries = retries
        self.default_region = default_region
        self.session = _Session(timeout)
        self.session.verify = verify
        self.session.headers.update(
            {"Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT}
        )
        self._taxii_root: ApiRoot | None = None

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> PalisadeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- REST plumbing --------------------------------------------------------------------

    def _request(
        self, method: str, path: str, *, idempotent: bool | None = None, **kwargs: Any
    ) -> Any:
        """One API call; 429 and 503 are retried after ``Retry-After``. A lost connection (refused,
        or closed before any answer, as a busy server under load may do) is retried with a short
        backoff when sending twice does no harm: GETs, and the POSTs whose callers say so
        (a resubmitted bundle is a no-op for what already landed; a repeated match only asks
        again)."""
        url = self.url + path
        if idempotent is None:
            idempotent = method in ("GET", "HEAD")
        for attempt in range(self.retries + 1):
            try:
                response = self.session.request(method, url, **kwargs)
            except ServerUnavailable as exc:
                if not (exc.connection_lost and idempotent and attempt < self.retries):
                    raise
                time.sleep(min(0.5 * 2**attempt, 5.0))
                continue
            if response.status_code in (429, 503) and attempt < self.retries:
                try:
                    delay = float(response.headers.get("Retry-After", "1"))
                except ValueError:
                    delay = 1.0
                time.sleep(min(max(delay, 0.1), 30.0))
                continue
            if response.status_code >= 400:
                raise _error_for(response)
            try:
                return response.json()
            except ValueError:
                raise ApiError(
                    response.status_code, "the server's answer is not JSON", url=url
                ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def whoami(self) -> dict[str, Any]:
        """Which organization and scopes the API key stands for."""
        return self._request("GET", "/api/v1/whoami")  # type: ignore[no-any-return]

    def status(self, status_id: str) -> dict[str, Any]:
        """The TAXII-shaped status of one of your submissions."""
        return self._request("GET", f"/api/v1/status/{status_id}")  # type: ignore[no-any-return]

    # ---- submitting -------------------------------------------------------------------------

    def _post_bundle(self, objects: list[dict[str, Any]], bundle_id: str | None) -> dict:
        body = json.dumps(
            {"type": "bundle", "id": bundle_id or f"bundle--{uuid.uuid4()}", "objects": objects},
            separators=(",", ":"),
        ).encode("utf-8")
        return self._request(  # type: ignore[no-any-return]
            "POST",
            "/api/v1/bundles",
            idempotent=True,
            data=body,
            headers={"Content-Type": STIX_MEDIA_TYPE},
        )

    def submit(
        self,
        bundle: Mapping[str, Any] | str | os.PathLike[str],
        *,
        max_objects: int = DEFAULT_CHUNK_OBJECTS,
        max_bytes: int = DEFAULT_CHUNK_BYTES,
    ) -> SubmitResult:
        """POST a bundle (dict or file) to ``/api/v1/bundles``, in chunks if it is big.

        A bundle that fits in one chunk keeps its id; chunks of a bigger one get fresh ids.
        """
        data = load_bundle(bundle)
        return self.submit_objects(
            data.get("objects") or [],
            bundle_id=data.get("id"),
            max_objects=max_objects,
            max_bytes=max_bytes,
        )

    def submit_objects(
        self,
        objects: Iterable[dict[str, Any]],
        *,
        bundle_id: str | None = None,
        max_objects: int = DEFAULT_CHUNK_OBJECTS,
        max_bytes: int = DEFAULT_CHUNK_BYTES,
        on_chunk: Any = None,
    ) -> SubmitResult:
        """Submit objects from any iterable (e.g. :func:`iter_bundle_objects`), chunked."""
        result = SubmitResult()
        for n, chunk in enumerate(
            chunk_objects(objects, max_objects=max_objects, max_bytes=max_bytes)
        ):
            status = self._post_bundle(chunk, bundle_id if n == 0 else None)
            result.statuses.append(status)
            if on_chunk is not None:
                on_chunk(status)
        return result

    # ---- TAXII ----------------------------------------------------------------------------

    def _taxii_call(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except requests.HTTPError as exc:
            raise _error_for(exc.response) from None
        except TAXIIServiceException as exc:
            raise ApiError(0, f"unexpected TAXII answer: {exc}") from None

    def taxii_api_root(self) -> ApiRoot:
        """The server's default TAXII API root (discovered once per client)."""
        if self._taxii_root is None:
            conn = _HTTPConnection(version="2.1", user_agent=USER_AGENT)
            conn.session = self.session
            server = Server(self.url + "/taxii2/", conn=conn)
            self._taxii_call(server.refresh)
            listed = server.default or (server.api_roots[0] if server.api_roots else None)
            if listed is None:
                raise ApiError(0, "the TAXII server lists no API roots")
            # taxii2-client gives listed roots a connection of their own (no timeout, no
            # Bearer header); rebuild the root on ours.
            root = ApiRoot(listed.url, conn=conn)
            self._taxii_call(root.refresh)
            self._taxii_root = root
        return self._taxii_root

    def collections(self) -> list[Collection]:
        """TAXII collections the API key can see."""
        root = self.taxii_api_root()
        return list(self._taxii_call(lambda: root.collections))

    def _collection(self, wanted: str | None, *, write: bool) -> Collection:
        found = self.collections()
        usable = [c for c in found if (c.can_write if write else c.can_read)]
        if wanted:
            for c in found:
                if wanted in (c.id, c.title) or wanted.lower() == (c.title or "").lower():
                    return c
            names = ", ".join(f"{c.id} ({c.title})" for c in found) or "none"
            raise PalisadeClientError(f"no TAXII collection {wanted!r}; available: {names}")
        if not usable:
            what = "writable" if write else "readable"
            raise PalisadeClientError(f"no {what} TAXII collection for this API key")
        return usable[0]

    def submit_taxii(
        self,
        bundle: Mapping[str, Any] | str | os.PathLike[str],
        *,
        collection: str | None = None,
        wait: bool = True,
        poll_interval: float = 1.0,
        timeout: float = 120.0,
        max_objects: int = DEFAULT_CHUNK_OBJECTS,
        max_bytes: int = DEFAULT_CHUNK_BYTES,
    ) -> SubmitResult:
        """Add the bundle's objects to a TAXII collection (``Collection.add_objects``).

        ``collection`` is an id or title; by default the first writable one.  With ``wait``
        each chunk's status is polled until ``complete`` (else :class:`SubmissionTimeout`).
        """
        data = load_bundle(bundle)
        target = self._collection(collection, write=True)
        result = SubmitResult()
        for chunk in chunk_objects(
            data.get("objects") or [], max_objects=max_objects, max_bytes=max_bytes
        ):
            status = self._taxii_call(
                target.add_objects,
                {"objects": chunk},
                wait_for_completion=wait,
                poll_interval=poll_interval,
                timeout=timeout,
            )
            info = {
                "id": status.id,
                "status": status.status,
                "total_count": status.total_count,
                "success_count": status.success_count,
                "failure_count": status.failure_count,
                "pending_count": status.pending_count,
                "failures": list(status.failures or []),
            }
            if wait and status.status != "complete":
                raise SubmissionTimeout(
                    f"TAXII status {status.id} still {status.status!r} after {timeout:.0f} s",
                    info,
                )
            result.statuses.append(info)
        return result

    def pull_pages(
        self,
        state_file: str | os.PathLike[str],
        *,
        collection: str | None = None,
        per_page: int = 1000,
    ) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        """Yield ``(collection_id, objects)`` per TAXII page added since the last pull.

        Follows ``next`` (``taxii2client.v21.as_pages``) and records the page's
        ``X-TAXII-Date-Added-Last`` as the next ``added_after`` in ``state_file`` *after* the
        caller has taken the page and asked for the next one: a crash re-delivers at most one
        page, it never skips one.
        """
        state_path = Path(state_file)
        state = _load_state(state_path, self.url)
        target = self._collection(collection, write=False)
        entry = state["collections"].setdefault(target.id, {})
        added_after = entry.get("added_after")
        filters = {"added_after": added_after} if added_after else {}
        pages = as_pages(target.get_objects, per_request=per_page, **filters)
        while True:
            envelope = self._taxii_call(next, pages, None)
            if envelope is None:
                break
            objects = list(envelope.get("objects") or [])
            response = self.session.last_response
            last = response.headers.get("X-TAXII-Date-Added-Last") if response else None
            yield target.id, objects
            if last:
                entry["added_after"] = last
            entry["objects"] = int(entry.get("objects", 0)) + len(objects)
            entry["pulled_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            _save_state(state_path, state)

    def pull(
        self,
        state_file: str | os.PathLike[str],
        *,
        collection: str | None = None,
        per_page: int = 1000,
    ) -> Iterator[dict[str, Any]]:
        """Every object added since the last pull (see :meth:`pull_pages`)."""
        for _, objects in self.pull_pages(state_file, collection=collection, per_page=per_page):
            yield from objects

    # ---- matching ---------------------------------------------------------------------------

    def _hasher(self) -> RowHasher:
        if self.keyring is None:
            raise PalisadeClientError(
                "matching needs the consortium key file (--key-file or "
                "PALISADE_CONSORTIUM_KEY_FILE)"
            )
        return RowHasher(self.keyring, default_region=self.default_region)

    def match(
        self,
        values: Iterable[Any],
        *,
        kind: str | None = None,
        min_similarity: float = MINHASH_THRESHOLD,
    ) -> list[MatchResult]:
        """Ask whether peers reported these raw values; one :class:`MatchResult` each, in order.

        ``values`` are raw strings (kind ``kind``, or guessed: email, ip, phone),
        ``(kind, raw)`` pairs or ``{"kind", "value"}`` dicts.  Values are hashed here with
        every key of the keyring (so a key rotation's overlap still matches), IPs as every
        covering prefix, prompts with their MinHash.  A value that cannot be hashed gets
        ``error`` set instead of failing the whole call.
        """
        rh = self._hasher()
        results: list[MatchResult] = []
        items: list[dict[str, Any]] = []
        owners: list[int] = []
        for index, item in enumerate(values):
            if isinstance(item, Mapping):
                k, raw = item.get("kind") or kind, item.get("value")
            elif isinstance(item, tuple | list) and len(item) == 2:
                k, raw = item
            else:
                k, raw = kind, item
            raw = "" if raw is None else str(raw)
            result = MatchResult(index, k or "-", raw)
            results.append(result)
            try:
                k = k or guess_kind(raw)
                result.kind = k
                for query in rh.query_items(k, raw):
                    items.append(query)
                    owners.append(index)
            except RowRejected as exc:
                result.error = exc.reason
        for start in range(0, len(items), MATCH_BATCH):
            batch = items[start : start + MATCH_BATCH]
            answer = self._request(
                "POST",
                "/api/v1/match",
                idempotent=True,
                json={"items": batch, "min_similarity": min_similarity},
            )
            answers = answer.get("results") if isinstance(answer, dict) else None
            if not isinstance(answers, list) or len(answers) != len(batch):
                raise ApiError(0, "match answer does not have one result per item")
            for offset, one in enumerate(answers):
                result = results[owners[start + offset]]
                if one.get("matched"):
                    result.matched = True
                seen = {m.get("indicator_id") for m in result.matches}
                for m in one.get("matches") or []:
                    if m.get("indicator_id") not in seen:
                        result.matches.append(m)
                        seen.add(m.get("indicator_id"))
        return results

    def range_check(self, kind: str, raw: str) -> RangeResult:
        """k-anonymity lookup: send only the first 5 hex digits of each hash, compare locally.

        The server returns every visible suffix under the prefix, padded with decoys, so it
        cannot tell which (if any) the member was asking about.  IPs check each covering
        prefix; every consortium key of the keyring is tried.
        """
        rh = self._hasher()
        if kind is None or kind == "":
            kind = guess_kind(raw)
        try:
            if kind == "ip":
                hashes = [
                    hash_value(key, "ip", p)
                    for key in rh.keyring.keys
                    for p in covering_prefixes(raw)
                ]
            else:
                kw = {"default_region": self.default_region} if kind == "phone" else {}
                hashes = [hash_identifier(key, kind, raw, **kw) for key in rh.keyring.keys]
        except InvalidIdentifier as exc:
            raise RowRejected(kind, exc.reason) from None
        wanted: dict[str, set[tuple[str, str]]] = {}
        for h in hashes:
            _, key_id, digest = h.split(":")
            wanted.setdefault(digest[:5], set()).add((key_id, digest[5:]))
        matched: list[str] = []
        candidates = 0
        for prefix, targets in wanted.items():
            answer = self._request("GET", f"/api/v1/range/{prefix}")
            listed: dict[str, set[str]] = {}
            for group in answer.get("keys") or []:
                suffixes = {str(s).lower() for s in group.get("suffixes") or []}
                listed.setdefault(str(group.get("key_id")), set()).update(suffixes)
                candidates += len(suffixes)
            for key_id, suffix in targets:
                if suffix in listed.get(key_id, ()):
                    matched.append(key_id)
        return RangeResult(kind, bool(matched), sorted(wanted), candidates, sorted(set(matched)))


# ---- pull state ------------------------------------------------------------------------------


def _load_state(path: Path, url: str) -> dict[str, Any]:
    if not path.exists():
        return {"format": PULL_STATE_FORMAT, "server": url, "collections": {}}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise PalisadeClientError(f"cannot read pull state {path}: {exc}") from None
    if not isinstance(state, dict) or state.get("format") != PULL_STATE_FORMAT:
        raise PalisadeClientError(f"{path} is not a palisade pull state file")
    if state.get("server") != url:
        raise PalisadeClientError(
            f"{path} records pulls from {state.get('server')}, not {url}; use another state file"
        )
    state.setdefault("collections", {})
    return state


def _save_state(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".palisade-pull-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(state, fh, indent=2)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
