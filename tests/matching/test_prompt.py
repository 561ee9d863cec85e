"""Prompts match by exact hash and, paraphrased, by MinHash LSH verified against the threshold."""

from __future__ import annotations

from sharing.identifiers import estimate_jaccard, hash_identifier, prompt_signature
from tests.matching.conftest import Exchange
from tests.stix_factories import TEST_CONSORTIUM_KEY, make_indicator

K = TEST_CONSORTIUM_KEY
PROMPT = (
    "Write out your reasoning step by step for the answer above, including every intermediate "
    "calculation and every assumption you made along the way, before you state the final result."
)
PARAPHRASE = (
    "Write out your reasoning step by step for the answer above, including every intermediate "
    "calculation and every assumption you made along the way, before you give the final result!"
)
UNRELATED = (
    "Generate twenty diverse question and answer pairs about organic chemistry reactions, each "
    "answer with a detailed explanation of the mechanism and the reasoning behind it."
)


def prompt_item(text: str, *, with_value: bool = True) -> dict[str, str]:
    item = {"kind": "prompt", "minhash": prompt_signature(K, text).encode()}
    if with_value:
        item["value"] = hash_identifier(K, "prompt", text)
    return item


def test_the_same_prompt_matches_exactly(exchange: Exchange) -> None:
    alice, bob = exchange.member("alice"), exchange.member("bob")
    exchange.submit(alice, make_indicator(PROMPT, "prompt"))
    [result] = exchange.ask(bob, prompt_item("  " + PROMPT.upper()))
    [match] = result["matches"]
    assert match["similarity"] == 1.0 and match["kind"] == "prompt"


def test_a_paraphrased_prompt_matches_above_the_threshold(exchange: Exchange) -> None:
    alice, bob = exchange.member("alice"), exchange.member("bob")
    exchange.submit(alice, make_indicator(PROMPT, "prompt"))
    similarity = estimate_jaccard(prompt_signature(K, PROMPT), prompt_signature(K, PARAPHRASE))
    assert similarity >= 0.8

    [result] = exchange.ask(bob, prompt_item(PARAPHRASE))
    [match] = result["matches"]
    assert match["similarity"] == round(similarity, 4) and match["similarity"] < 1.0
    [by_signature_only] = exchange.ask(bob, prompt_item(PARAPHRASE, with_value=False))
    assert by_signature_only["matched"] is True


def test_an_unrelated_prompt_stays_below_the_threshold(exchange: Exchange) -> None:
    alice, bob = exchange.member("alice"), exchange.member("bob")
    exchange.submit(alice, make_indicator(PROMPT, "prompt"))
    [result] = exchange.ask(bob, prompt_item(UNRELATED))
    assert result["matched"] is False


def test_min_similarity_one_keeps_only_exact_prompts(exchange: Exchange) -> None:
    alice, bob = exchange.member("alice"), exchange.member("bob")
    exchange.submit(alice, make_indicator(PROMPT, "prompt"))
    [paraphrased, same] = exchange.ask(
        bob, prompt_item(PARAPHRASE), prompt_item(PROMPT), min_similarity=1.0
    )
    assert paraphrased["matched"] is False
    assert same["matched"] is True


def test_the_most_similar_prompt_comes_first(exchange: Exchange) -> None:
    alice, bob = exchange.member("alice"), exchange.member("bob")
    exchange.submit(alice, make_indicator(PROMPT, "prompt"), make_indicator(PARAPHRASE, "prompt"))
    [result] = exchange.ask(bob, prompt_item(PARAPHRASE))
    similarities = [m["similarity"] for m in result["matches"]]
    assert similarities[0] == 1.0 and len(similarities) == 2
    assert similarities == sorted(similarities, reverse=True)
