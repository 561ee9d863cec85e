"""Member-side commands (keygen, hash, submit, match, pull): they run inside a member lab.

They never touch the server's database or keys; they are thin wrappers over the member SDK
(:mod:`sharing.client`), which hashes every raw value locally before anything is sent.  Human
messages and progress go to stderr, machine output (bundles, JSON, tables) to stdout, and the
exit codes are documented in docs/CLIENT.md so that ``palisade match`` can gate a pipeline.
"""

from __future__ import annotations

import functools
import io
import json
import os
import sys
import tempfile
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, TypeVar

import click

from sharing.cli.base import EXIT_CONFIG, EXIT_CONFLICT, EXIT_NOT_FOUND, EXIT_USAGE, cli, fail, say
from sharing.client import (
    ApiError,
    EndpointNotFound,
    HashJob,
    InputError,
    PalisadeClient,
    PalisadeClientError,
    RowError,
    RowRejected,
    ServerUnavailable,
    StrictStop,
    SubmissionTimeout,
    iter_bundle_objects,
    read_rows,
)
from sharing.client.rows import parse_confidence, parse_tlp, parse_valid_until
from sharing.identifiers import KINDS, ConsortiumKeyring, InvalidKeyFile, generate_keyring
from sharing.identifiers import load_keyring as _load_keyring
from sharing.identifiers import write_keyring as _write_keyring

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK = 0
#: Some rows or objects were rejected (the rest went through), or --strict stopped.
EXIT_REJECTED = 1
EXIT_UNAVAILABLE = 6
#: The server refused the request as a whole (bad key, missing scope, invalid body).
EXIT_REFUSED = 7
#: ``palisade match``: at least one value matched a peer's indicator.
EXIT_MATCHED = 10


def member_errors(func: F) -> F:
    """Map SDK errors to one line on stderr and the exit codes of docs/CLIENT.md."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except InputError as exc:
            fail(str(exc), EXIT_USAGE)
        except InvalidKeyFile as exc:
            fail(f"consortium key: {exc}", EXIT_CONFIG)
        except (ServerUnavailable, SubmissionTimeout) as exc:
            fail(str(exc), EXIT_UNAVAILABLE)
        except EndpointNotFound as exc:
            fail(f"not found on the server ({exc.url}): {exc.message}", EXIT_NOT_FOUND)
        except ApiError as exc:
            fail(f"the server refused the request (HTTP {exc.status}): {exc.message}", EXIT_REFUSED)
        except RowRejected as exc:
            fail(str(exc), EXIT_REJECTED)
        except PalisadeClientError as exc:
            fail(str(exc), EXIT_USAGE)

    return wrapper  # type: ignore[return-value]


# ---- shared options ---------------------------------------------------------------------


def server_options(func: F) -> F:
    func = click.option(
        "--timeout", type=float, default=60.0, show_default=True, help="HTTP timeout (seconds)."
    )(func)
    func = click.option(
        "--api-key", envvar="PALISADE_API_KEY", help="API key (env PALISADE_API_KEY)."
    )(func)
    func = click.option(
        "--url",
        envvar="PALISADE_URL",
        help="Server URL, e.g. https://palisade.example (env PALISADE_URL).",
    )(func)
    return func


def key_option(func: F) -> F:
    return click.option(
        "--key-file",
        envvar="PALISADE_CONSORTIUM_KEY_FILE",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Consortium key file from `palisade keygen` (env PALISADE_CONSORTIUM_KEY_FILE).",
    )(func)


def load_keyring(path: Path | None) -> ConsortiumKeyring:
    if path is None:
        fail(
            "the consortium key file is needed: --key-file or PALISADE_CONSORTIUM_KEY_FILE",
            EXIT_CONFIG,
        )
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            keyring = _load_keyring(path)  # type: ignore[arg-type]
    except FileNotFoundError:
        fail(f"consortium key file {path} does not exist", EXIT_CONFIG)
    except OSError as exc:
        fail(f"cannot read consortium key file {path}: {exc.strerror}", EXIT_CONFIG)
    for w in caught:
        say(f"warning: {w.message}")
    return keyring


def make_client(
    url: str | None, api_key: str | None, timeout: float, keyring: ConsortiumKeyring | None = None
) -> PalisadeClient:
    if not url:
        fail("no server URL: pass --url or set PALISADE_URL", EXIT_USAGE)
    if not api_key:
        fail("no API key: pass --api-key or set PALISADE_API_KEY", EXIT_USAGE)
    return PalisadeClient(url, api_key, keyring=keyring, timeout=timeout)  # type: ignore[arg-type]


def _progress(quiet: bool, unit: str) -> Any:
    from tqdm import tqdm

    return tqdm(
        unit=unit,
        unit_scale=True,
        file=sys.stderr,
        disable=quiet or not sys.stderr.isatty(),
        delay=1.0,
        mininterval=0.5,
        dynamic_ncols=True,
    )


@contextmanager
def _output(path: str) -> Iterator[IO[str]]:
    """stdout for ``-``; else a temporary file renamed over ``path`` only on success."""
    if path == "-":
        stream = click.get_text_stream("stdout")
        yield stream
        stream.flush()
        return
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or Path("."))
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n", buffering=1 << 20) as fh:
            yield fh
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _input(path: str, fmt: str) -> IO[str]:
    if path == "-":
        raw = click.get_binary_stream("stdin")
        return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="" if fmt == "csv" else None)
    return open(path, encoding="utf-8-sig", newline="" if fmt == "csv" else None)


def _input_format(path: str, fmt: str) -> str:
    if fmt != "auto":
        return fmt
    return "jsonl" if path.lower().endswith((".jsonl", ".ndjson", ".jsonl.txt")) else "csv"


# ---- keygen -------------------------------------------------------------------------------


@cli.command()
@click.option("--key-id", default="c1", show_default=True, help="Name of the key version.")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@member_errors
def keygen(key_id: str, out: Path) -> None:
    """Create a consortium key file OUT (mode 0600) for the member labs to share.

    Refuses to overwrite an existing file: that would lose the only copy of a secret.
    """
    try:
        keyring = generate_keyring(key_id)
    except InvalidKeyFile as exc:
        fail(str(exc), EXIT_USAGE)
    try:
        _write_keyring(out, keyring)
    except FileExistsError:
        fail(f"{out} exists already; refusing to overwrite a key file", EXIT_CONFLICT)
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror}", EXIT_CONFIG)
    say(
        f"wrote consortium key {key_id!r} to {out} (mode 0600). Share it with the member labs "
        "over a secure channel; never give it to the Palisade operator."
    )


# ---- hash ---------------------------------------------------------------------------------


@cli.command("hash")
@click.argument("input_path", metavar="INPUT", default="-")
@click.option("-o", "--output", default="-", help="Output file (default: stdout).")
@click.option(
    "--input-format",
    type=click.Choice(["auto", "csv", "jsonl"]),
    default="auto",
    show_default=True,
    help="auto: .jsonl/.ndjson is JSONL, anything else CSV.",
)
@click.option(
    "--output-format",
    "-f",
    type=click.Choice(["auto", "bundle", "jsonl"]),
    default="auto",
    show_default=True,
    help="bundle: a STIX 2.1 bundle; jsonl: one hash per line. auto: jsonl for .jsonl outputs.",
)
@click.option("--kind", type=click.Choice(KINDS), help="Kind of rows without a kind column.")
@click.option("--tlp", default="amber", show_default=True, help="Default TLP 2.0 marking.")
@click.option("--confidence", type=int, help="Default confidence (0-100).")
@click.option("--campaign", help="Default campaign name (or campaign--<uuid>).")
@click.option("--intrusion-set", help="Attribute every campaign to this intrusion set.")
@click.option("--valid-until", help="Default expiry: ISO 8601 date or date-time.")
@click.option("--anonymous", is_flag=True, help="Peers see 'a member', not your organization.")
@click.option("--sharing-group", help="Share only within this sharing group.")
@click.option("--strict", is_flag=True, help="Stop at the first bad row (no output is kept).")
@click.option("--force-ip", is_flag=True, help="Submit IPs on the warning list anyway.")
@click.option("--region", default="US", show_default=True, help="Default phone region.")
@click.option(
    "--rejects",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write rejected rows (line, kind, reason; never the value) as JSONL here.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary.")
@key_option
@member_errors
def hash_command(
    input_path: str,
    output: str,
    input_format: str,
    output_format: str,
    kind: str | None,
    tlp: str,
    confidence: int | None,
    campaign: str | None,
    intrusion_set: str | None,
    valid_until: str | None,
    anonymous: bool,
    sharing_group: str | None,
    strict: bool,
    force_ip: bool,
    region: str,
    rejects: Path | None,
    quiet: bool,
    key_file: Path | None,
) -> None:
    """Hash raw identifiers from a CSV or JSONL file into a STIX bundle (or JSONL of hashes).

    Columns: kind,value[,tlp,confidence,campaign,valid_until] (a header row is required).
    Input is streamed, so files of any size run in constant memory.  Rejected rows are
    reported on stderr with line number, kind and reason; exit code 1 if there were any.
    """
    try:
        parse_tlp(tlp)
        parse_confidence(confidence)
        parse_valid_until(valid_until)
    except RowRejected as exc:
        raise click.BadParameter(exc.reason) from None
    keyring = load_keyring(key_file)
    fmt = _input_format(input_path, input_format)
    out_fmt = output_format
    if out_fmt == "auto":
        out_fmt = "jsonl" if output.lower().endswith((".jsonl", ".ndjson")) else "bundle"
    try:
        source = _input(input_path, fmt)
    except OSError as exc:
        fail(f"cannot read {input_path}: {exc.strerror}", EXIT_USAGE)
    bar = _progress(quiet, " rows")
    reject_file = rejects.open("w", encoding="utf-8") if rejects else None

    def on_reject(error: RowError) -> None:
        if not strict:  # strict mode reports the row once, in the final error
            bar.write(f"rejected {error}", file=sys.stderr)
        if reject_file is not None:
            reject_file.write(json.dumps(error.as_dict()) + "\n")

    try:
        with source, _output(output) as out:
            job = HashJob(
                keyring,
                out,
                output=out_fmt,
                tlp=tlp,
                confidence=confidence,
                valid_until=valid_until,
                campaign=campaign,
                intrusion_set=intrusion_set,
                anonymous=anonymous,
                sharing_group=sharing_group,
                force_ip=force_ip,
                default_region=region,
                strict=strict,
                on_reject=on_reject,
                on_progress=bar.update,
            )
            job.run(read_rows(source, fmt, default_kind=kind))
            job.finish()
    except StrictStop as stop:
        bar.close()
        where = "" if output == "-" else f"; {output} was not written"
        fail(f"--strict: stopped at the first bad row ({stop.error}){where}", EXIT_REJECTED)
    except UnicodeDecodeError:
        bar.close()
        fail(f"{input_path} is not UTF-8 text", EXIT_USAGE)
    finally:
        bar.close()
        if reject_file is not None:
            reject_file.close()
    stats = job.stats
    if not quiet:
        kinds = ", ".join(f"{k} {n:,}" for k, n in sorted(stats.by_kind.items())) or "none"
        what = f"{stats.objects:,} STIX objects" if out_fmt == "bundle" else "JSONL"
        say(f"hashed {stats.hashed:,} of {stats.rows:,} rows ({kinds}) into {what}")
        if stats.rejected:
            say(f"rejected {stats.rejected:,} rows:")
            for (k, reason), n in stats.reasons.most_common():
                say(f"  {n:>8,}  {k}: {reason}")
    if stats.rejected:
        sys.exit(EXIT_REJECTED)


# ---- submit -------------------------------------------------------------------------------


@cli.command()
@click.argument("bundle_file", metavar="FILE", type=click.Path(exists=True, dir_okay=False))
@click.option("--taxii", is_flag=True, help="Push through TAXII 2.1 instead of the REST API.")
@click.option("--collection", help="TAXII collection id or title (default: first writable).")
@click.option(
    "--chunk-objects",
    type=click.IntRange(1, 100_000),
    default=10_000,
    show_default=True,
    help="Objects per request; bigger bundles are sent in several chunks.",
)
@click.option("-q", "--quiet", is_flag=True, help="No summary on stderr.")
@server_options
@member_errors
def submit(
    bundle_file: str,
    taxii: bool,
    collection: str | None,
    chunk_objects: int,
    quiet: bool,
    url: str | None,
    api_key: str | None,
    timeout: float,
) -> None:
    """Submit a STIX bundle FILE (from `palisade hash`) and print the combined status.

    The status (ids, counts, failures) is printed as JSON on stdout; exit code 1 if the
    server rejected any object.
    """
    client = make_client(url, api_key, timeout)
    try:
        bundle_id, objects = iter_bundle_objects(bundle_file)
    except (ValueError, json.JSONDecodeError) as exc:
        fail(f"{bundle_file}: {exc}", EXIT_USAGE)
    with client:
        try:
            if taxii:
                result = client.submit_taxii(
                    {"type": "bundle", "id": bundle_id, "objects": list(objects)},
                    collection=collection,
                    max_objects=chunk_objects,
                )
            else:
                bar = _progress(quiet, " objects")
                with bar:
                    result = client.submit_objects(
                        objects,
                        bundle_id=bundle_id,
                        max_objects=chunk_objects,
                        on_chunk=lambda s: bar.update(int(s.get("total_count") or 0)),
                    )
        except (ValueError, json.JSONDecodeError) as exc:
            fail(f"{bundle_file}: {exc}", EXIT_USAGE)
    click.echo(json.dumps(result.as_dict(), indent=2))
    if not quiet:
        say(
            f"submitted {result.total_count:,} objects in {len(result.statuses)} request(s): "
            f"{result.success_count:,} accepted, {result.failure_count:,} rejected"
            + (f", {result.pending_count:,} pending" if result.pending_count else "")
        )
        for failure in result.failures[:20]:
            say(f"  {failure.get('id')}: {failure.get('message')}")
        if len(result.failures) > 20:
            say(f"  ... and {len(result.failures) - 20:,} more (see the JSON on stdout)")
    if not result.ok:
        sys.exit(EXIT_REJECTED)


# ---- match --------------------------------------------------------------------------------


def _match_inputs(values: tuple[str, ...], file: str | None, kind: str | None) -> list[Any]:
    items: list[Any] = [(kind, v) if kind else v for v in values]
    if file is None:
        return items
    lower = file.lower()
    if lower.endswith((".csv", ".jsonl", ".ndjson")):
        fmt = "jsonl" if not lower.endswith(".csv") else "csv"
        with _input(file, fmt) as fh:
            for row in read_rows(fh, fmt, default_kind=kind):
                if isinstance(row, RowError):
                    raise InputError(str(row))
                items.append({"kind": row[1], "value": row[2]})
        return items
    with _input(file, "lines") as fh:
        for line in fh:
            value = line.rstrip("\r\n")
            if value.strip():
                items.append((kind, value) if kind else value)
    return items


def _table(results: list[Any]) -> str:
    rows = [
        ("#", "KIND", "VALUE", "MATCHED", "SIMILARITY", "REPORTERS", "SCORE", "TLP", "CAMPAIGNS")
    ]
    for r in results:
        best = max(r.matches, key=lambda m: m.get("similarity") or 0, default=None)
        value = r.query if len(r.query) <= 40 else r.query[:37] + "..."
        matched = f"error: {r.error}" if r.error else ("yes" if r.matched else "no")
        rows.append(
            (
                str(r.index + 1),
                r.kind,
                value,
                matched,
                f"{best['similarity']:.2f}" if best and best.get("similarity") is not None else "",
                str(max(m.get("reporter_count") or 0 for m in r.matches)) if r.matches else "",
                str(best.get("score", "")) if best else "",
                str(best.get("tlp", "")) if best else "",
                ", ".join(sorted({c for m in r.matches for c in m.get("campaigns") or []})),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


@cli.command()
@click.argument("values", nargs=-1)
@click.option(
    "--file",
    "file",
    help="Read values from a file (one per line; .csv/.jsonl with kind,value columns); - is stdin.",
)
@click.option(
    "--kind",
    type=click.Choice(KINDS),
    help="Kind of every value (default: guess email, ip or phone).",
)
@click.option(
    "--min-similarity",
    type=click.FloatRange(0, 1, min_open=True),
    default=0.8,
    show_default=True,
    help="Prompt similarity threshold.",
)
@click.option("--json", "as_json", is_flag=True, help="JSON on stdout instead of a table.")
@server_options
@key_option
@member_errors
def match(
    values: tuple[str, ...],
    file: str | None,
    kind: str | None,
    min_similarity: float,
    as_json: bool,
    url: str | None,
    api_key: str | None,
    timeout: float,
    key_file: Path | None,
) -> None:
    """Check raw VALUES against the exchange; they are hashed here, only hashes are sent.

    Exit code 10 if anything matched, 0 if nothing did, 1 if some values could not be hashed
    (and nothing matched): `palisade match --file accounts.txt || handle $?` gates a pipeline.
    """
    items = _match_inputs(values, file, kind)
    if not items:
        fail("nothing to match: give VALUES or --file", EXIT_USAGE)
    keyring = load_keyring(key_file)
    with make_client(url, api_key, timeout, keyring) as client:
        results = client.match(items, min_similarity=min_similarity)
    matched = sum(r.matched for r in results)
    errors = sum(r.error is not None for r in results)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "results": [r.as_dict() for r in results],
                    "matched_count": matched,
                    "error_count": errors,
                },
                indent=2,
            )
        )
    else:
        click.echo(_table(results))
    say(f"{matched} of {len(results)} value(s) matched" + (f"; {errors} invalid" if errors else ""))
    if matched:
        sys.exit(EXIT_MATCHED)
    if errors:
        sys.exit(EXIT_REJECTED)


# ---- pull ---------------------------------------------------------------------------------


@cli.command()
@click.option(
    "-o",
    "--output",
    default="-",
    help="Append objects as JSONL to this file (default: stdout).",
)
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write each page as a STIX bundle file into this directory instead.",
)
@click.option(
    "--state",
    "state_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to remember the last added_after (default: OUTPUT.state.json, "
    "DIR/.palisade-pull-state.json, or ./palisade-pull.state.json for stdout).",
)
@click.option("--collection", help="TAXII collection id or title (default: first readable).")
@click.option("--per-page", type=click.IntRange(1, 10_000), default=1000, show_default=True)
@click.option("-q", "--quiet", is_flag=True, help="No summary on stderr.")
@server_options
@member_errors
def pull(
    output: str,
    directory: Path | None,
    state_file: Path | None,
    collection: str | None,
    per_page: int,
    quiet: bool,
    url: str | None,
    api_key: str | None,
    timeout: float,
) -> None:
    """Pull what was added to the TAXII feed since the last pull (incremental, resumable)."""
    if directory is not None and output != "-":
        fail("give either --output or --dir, not both", EXIT_USAGE)
    if state_file is None:
        if directory is not None:
            state_file = directory / ".palisade-pull-state.json"
        elif output != "-":
            state_file = Path(output + ".state.json")
        else:
            state_file = Path("palisade-pull.state.json")
    count = pages = 0
    collection_id = None
    with make_client(url, api_key, timeout) as client:
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
            for collection_id, objects in client.pull_pages(
                state_file, collection=collection, per_page=per_page
            ):
                if not objects:
                    continue
                pages += 1
                count += len(objects)
                stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
                name = directory / f"{stamp}-{pages:06d}-{collection_id}.json"
                with name.open("w", encoding="utf-8") as fh:
                    json.dump(
                        {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects}, fh
                    )
                    fh.flush()
                    os.fsync(fh.fileno())
        else:
            stream: IO[str]
            close = output != "-"
            stream = (
                open(output, "a", encoding="utf-8")  # noqa: SIM115
                if close
                else click.get_text_stream("stdout")
            )
            try:
                for page_collection, objects in client.pull_pages(
                    state_file, collection=collection, per_page=per_page
                ):
                    collection_id = page_collection
                    pages += 1
                    count += len(objects)
                    stream.write("".join(json.dumps(o) + "\n" for o in objects))
                    stream.flush()
                    if close:
                        os.fsync(stream.fileno())
            finally:
                if close:
                    stream.close()
    if not quiet:
        say(
            f"pulled {count:,} object(s) in {pages} page(s) from collection {collection_id}; "
            f"state in {state_file}"
        )
