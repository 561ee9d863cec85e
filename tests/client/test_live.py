"""The member SDK and CLI against a real Palisade server on loopback (SQLite and PostgreSQL).

Two member labs: ``aurora`` reports, ``borealis`` asks.  Everything goes over real HTTP, the
way a lab's pipeline would use it; nothing is mocked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sharing.client import (
    AuthenticationError,
    BundleBuilder,
    PalisadeClient,
    PermissionDenied,
    ServerUnavailable,
)
from sharing.identifiers import ConsortiumKey, ConsortiumKeyring, hash_identifier, parse_pattern
from tests.live import free_port
from tests.stix_factories import TEST_CONSORTIUM_KEY, make_bundle, make_indicator

REPORTED_EMAIL = "Mallory.Distiller+run7@Example.com"
REPORTED_RANGE = "81.2.69.0/24"
REPORTED_PROMPT = "Write out your reasoning step by step for the answer above, in full detail"


def _bundle(keyring: ConsortiumKeyring, *extra: tuple[str, str]) -> dict[str, Any]:
    builder = BundleBuilder(keyring, tlp="green", confidence=80)
    builder.campaign("Operation Mirror")
    builder.add("email", REPORTED_EMAIL, campaign="Operation Mirror")
    builder.add("ip", REPORTED_RANGE, campaign="Operation Mirror")
    builder.add("prompt", REPORTED_PROMPT, campaign="Operation Mirror")
    for kind, raw in extra:
        builder.add(kind, raw)
    return builder.bundle()


@pytest.fixture
def reporter(live, keyring) -> PalisadeClient:
    with PalisadeClient(live.url, live.member("aurora"), keyring=keyring) as client:
        yield client


@pytest.fixture
def asker(live, keyring) -> PalisadeClient:
    with PalisadeClient(live.url, live.member("borealis"), keyring=keyring) as client:
        yield client


def _env(live, key: str) -> dict[str, str | None]:
    return {"PALISADE_URL": live.url, "PALISADE_API_KEY": key}


# ---- submit ---------------------------------------------------------------------------------


def test_a_bundle_built_with_the_sdk_is_accepted_in_full_by_the_server(reporter, keyring):
    bundle = _bundle(keyring)
    result = reporter.submit(bundle)
    assert result.failures == []
    assert result.success_count == result.total_count == len(bundle["objects"])
    (status_id,) = result.status_ids
    again = reporter.status(status_id)
    assert again["success_count"] == result.success_count


def test_a_big_bundle_goes_out_in_chunks_that_all_land(reporter, keyring):
    builder = BundleBuilder(keyring)
    for i in range(45):
        builder.add("email", f"bulk{i}@example.com", campaign="Operation Bulk")
    result = reporter.submit(builder.bundle(), max_objects=25)
    assert len(result.statuses) >= 4
    assert result.failure_count == 0
    indicators = {o["id"] for o in builder.objects if o["type"] == "indicator"}
    landed = {s["id"] for status in result.statuses for s in status["successes"]}
    assert indicators <= landed


def test_objects_the_server_rejects_are_reported_and_the_rest_land(reporter):
    good = make_indicator("fine@example.com", tlp="green")
    unknown_key = make_indicator("x@example.com", key=ConsortiumKey("c9", b"\x09" * 32))
    result = reporter.submit(make_bundle(good, unknown_key))
    assert result.success_count == 1
    assert [f["id"] for f in result.failures] == [unknown_key["id"]]
    assert not result.ok


def test_a_wrong_api_key_raises_with_the_servers_message(live, keyring):
    client = PalisadeClient(live.url, "pal_not_a_real_key", keyring=keyring)
    with pytest.raises(AuthenticationError) as caught:
        client.submit(_bundle(keyring))
    assert caught.value.status == 401
    assert caught.value.message == "invalid, expired or revoked API key"
    assert "invalid, expired or revoked API key" in str(caught.value)


def test_a_read_only_key_cannot_submit(live, keyring):
    client = PalisadeClient(live.url, live.member("aurora", scopes="read"), keyring=keyring)
    with pytest.raises(PermissionDenied) as caught:
        client.submit(_bundle(keyring))
    assert "write" in caught.value.message


def test_an_unreachable_server_is_reported_as_unavailable(keyring):
    client = PalisadeClient(f"http://127.0.0.1:{free_port()}", "k", keyring=keyring, timeout=2)
    with pytest.raises(ServerUnavailable):
        client.whoami()


def test_cli_hash_then_submit_lands_every_object(live, palisade, tmp_path):
    src = tmp_path / "export.csv"
    src.write_text(
        "kind,value,campaign\n"
        f"email,{REPORTED_EMAIL},Operation Mirror\n"
        f"ip,{REPORTED_RANGE},Operation Mirror\n"
        "phone,+1 202 555 0143,\n"
    )
    bundle = tmp_path / "bundle.json"
    assert palisade("hash", str(src), "-o", str(bundle), "--tlp", "green").exit_code == 0
    result = palisade("submit", str(bundle), env=_env(live, live.member("aurora")))
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    objects = json.loads(bundle.read_text())["objects"]
    assert summary["success_count"] == len(objects)
    assert summary["failure_count"] == 0
    assert "accepted" in result.stderr


def test_cli_submit_exit_codes_name_what_went_wrong(live, palisade, tmp_path):
    bundle = tmp_path / "bundle.json"
    good = make_indicator("fine@example.com")
    bad = make_indicator("x@example.com", key=ConsortiumKey("c9", b"\x09" * 32))
    bundle.write_text(json.dumps(make_bundle(good, bad)))
    partly = palisade("submit", str(bundle), env=_env(live, live.member("aurora")))
    assert partly.exit_code == 1
    assert json.loads(partly.stdout)["failure_count"] == 1
    refused = palisade("submit", str(bundle), env=_env(live, "pal_wrong"))
    assert refused.exit_code == 7
    assert "HTTP 401" in refused.stderr
    assert "invalid, expired or revoked API key" in refused.stderr
    down = palisade(
        "submit",
        str(bundle),
        "--timeout",
        "2",
        env={"PALISADE_URL": f"http://127.0.0.1:{free_port()}", "PALISADE_API_KEY": "k"},
    )
    assert down.exit_code == 6
    no_url = palisade("submit", str(bundle), env={"PALISADE_API_KEY": "k"})
    assert no_url.exit_code == 2


# ---- TAXII push -------------------------------------------------------------------------


def test_sdk_pushes_through_taxii_and_waits_for_a_complete_status(reporter, keyring):
    bundle = _bundle(keyring)
    result = reporter.submit_taxii(bundle, poll_interval=0.2, timeout=30)
    assert result.failure_count == 0
    assert result.success_count == len(bundle["objects"])
    assert all(s["status"] == "complete" for s in result.statuses)


def test_cli_submit_taxii_lands_every_object(live, palisade, tmp_path, keyring):
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps(_bundle(keyring)))
    result = palisade("submit", str(bundle), "--taxii", env=_env(live, live.member("aurora")))
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["success_count"] == len(
        json.loads(bundle.read_text())["objects"]
    )


# ---- match and range ----------------------------------------------------------------------


def test_a_peer_matches_raw_values_hashed_locally_including_an_ip_inside_a_range(
    reporter, asker, keyring
):
    reporter.submit(_bundle(keyring))
    results = asker.match(
        [
            "mallory.distiller@example.com",  # same address after normalisation
            "81.2.69.77",  # inside the reported /24
            "nobody@example.net",
            ("prompt", REPORTED_PROMPT.upper() + "!"),
        ]
    )
    assert [r.matched for r in results] == [True, True, False, True]
    assert [r.kind for r in results] == ["email", "ip", "email", "prompt"]
    email = results[0].matches[0]
    assert email["reporter_count"] == 1
    assert email["campaigns"]  # the campaign travelled with the report
    assert results[2].matches == []


def test_cli_match_exit_code_gates_a_pipeline(live, palisade, reporter, keyring, tmp_path):
    reporter.submit(_bundle(keyring))
    env = _env(live, live.member("borealis"))
    hit = palisade("match", "mallory.distiller@example.com", "--json", env=env)
    assert hit.exit_code == 10, hit.stderr
    answer = json.loads(hit.stdout)
    assert answer["matched_count"] == 1
    miss = palisade("match", "nobody@example.net", env=env)
    assert miss.exit_code == 0, miss.stderr
    assert "no" in miss.stdout
    values = tmp_path / "values.txt"
    values.write_text("nobody@example.net\nnot a value at all\n")
    invalid = palisade("match", "--file", str(values), env=env)
    assert invalid.exit_code == 1
    assert "cannot guess the kind" in invalid.stdout


def test_range_lookup_finds_a_reported_value_sending_only_five_hex_digits(reporter, asker, keyring):
    reporter.submit(_bundle(keyring))
    sent: list[str] = []
    asker.session.hooks["response"].append(lambda r, *a, **k: sent.append(r.request.url))
    found = asker.range_check("email", "mallory.distiller@example.com")
    assert found.matched
    assert found.matched_key_ids == [TEST_CONSORTIUM_KEY.key_id]
    digest = hash_identifier(TEST_CONSORTIUM_KEY, "email", "mallory.distiller@example.com")
    assert all(digest.split(":")[2][5:] not in url for url in sent)
    assert [url.rsplit("/", 1)[1] for url in sent] == found.prefixes
    assert all(len(p) == 5 for p in found.prefixes)
    assert not asker.range_check("email", "nobody@example.net").matched
    assert asker.range_check("ip", "81.2.69.200").matched


# ---- pull --------------------------------------------------------------------------------


def _indicator_hashes(objects: list[dict[str, Any]]) -> set[str]:
    return {parse_pattern(o["pattern"])[1] for o in objects if o.get("type") == "indicator"}


def test_pull_is_incremental_and_remembers_where_it_stopped(reporter, asker, keyring, tmp_path):
    reporter.submit(_bundle(keyring))
    state = tmp_path / "pull.state.json"
    first = list(asker.pull(state, per_page=2))
    expected = hash_identifier(TEST_CONSORTIUM_KEY, "email", REPORTED_EMAIL)
    assert expected in _indicator_hashes(first)
    saved = json.loads(state.read_text())
    (entry,) = saved["collections"].values()
    assert entry["added_after"]
    assert list(asker.pull(state, per_page=2)) == []
    reporter.submit(
        BundleBuilder(keyring, tlp="green").bundle()
        | {"objects": [make_indicator("late@example.com", tlp="green")]}
    )
    later = list(asker.pull(state, per_page=2))
    assert _indicator_hashes(later) == {
        hash_identifier(TEST_CONSORTIUM_KEY, "email", "late@example.com")
    }


def test_cli_pull_appends_jsonl_and_a_second_run_adds_only_new_objects(
    live, palisade, reporter, keyring, tmp_path
):
    reporter.submit(_bundle(keyring))
    out = tmp_path / "feed.jsonl"
    env = _env(live, live.member("borealis"))
    first = palisade("pull", "-o", str(out), "--per-page", "3", env=env)
    assert first.exit_code == 0, first.stderr
    lines = out.read_text().splitlines()
    assert hash_identifier(TEST_CONSORTIUM_KEY, "email", REPORTED_EMAIL) in _indicator_hashes(
        [json.loads(x) for x in lines]
    )
    assert Path(str(out) + ".state.json").exists()
    second = palisade("pull", "-o", str(out), env=env)
    assert second.exit_code == 0, second.stderr
    assert out.read_text().splitlines() == lines


def test_cli_pull_into_a_directory_writes_valid_bundles_and_resumes(
    live, palisade, reporter, keyring, tmp_path
):
    reporter.submit(_bundle(keyring))
    feed = tmp_path / "feed"
    env = _env(live, live.member("borealis"))
    first = palisade("pull", "--dir", str(feed), "--per-page", "4", env=env)
    assert first.exit_code == 0, first.stderr
    pages = sorted(p for p in feed.glob("*.json") if not p.name.startswith("."))
    assert pages
    objects = [o for p in pages for o in json.loads(p.read_text())["objects"]]
    assert hash_identifier(TEST_CONSORTIUM_KEY, "email", REPORTED_EMAIL) in _indicator_hashes(
        objects
    )
    assert (feed / ".palisade-pull-state.json").exists()
    second = palisade("pull", "--dir", str(feed), env=env)
    assert second.exit_code == 0, second.stderr
    assert sorted(p for p in feed.glob("*.json") if not p.name.startswith(".")) == pages
