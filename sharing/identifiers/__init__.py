"""Identifier normalisation, hashing and prompt signatures: the privacy boundary of Palisade.

Raw identifiers (e-mail addresses, phone numbers, IPs, prompts) never leave a member lab.  The
member's client turns each into a canonical form and an HMAC under the consortium key ``K_c``,
which the server never holds; the server only ever sees, stores and compares those hashes.
Because both ends must agree bit for bit, this package is pure Python (no Flask, no
SQLAlchemy) and is imported unchanged by the member client/CLI and by the server's validators.
``schemas/test-vectors.json`` pins the behaviour down for other implementations (the browser).
"""

from .consortium import (
    ConsortiumKey,
    ConsortiumKeyring,
    InvalidKeyFile,
    generate_keyring,
    load_keyring,
    write_keyring,
)
from .constants import (
    CORROBORATION_EXTENSION_ID,
    HASHED_IDENTIFIER_EXTENSION_ID,
    KINDS,
    MINHASH_SCHEME,
    MINHASH_THRESHOLD,
    PALISADE_IDENTITY_ID,
    PROMPT_SIGNATURE_EXTENSION_ID,
    REPORT_EXTENSION_ID,
    TLP_MARKING_IDS,
    TLP_NAMES_BY_ID,
)
from .hashing import (
    HASH_RE,
    InvalidHash,
    hash_identifier,
    hash_many,
    hash_value,
    hasher,
    parse_hash,
)
from .ip import covering_prefixes, hash_prefixes, warning_for
from .normalise import InvalidIdentifier, normalise
from .prompt import (
    InvalidSignature,
    PromptSignature,
    decode_signature,
    encode_signature,
    estimate_jaccard,
    lsh_band_hashes,
    prompt_signature,
)
from .stix import (
    build_pattern,
    extension_definitions_bundle,
    hashed_identifier_sco,
    parse_pattern,
    prompt_signature_extension,
)

__all__ = [
    "CORROBORATION_EXTENSION_ID",
    "HASHED_IDENTIFIER_EXTENSION_ID",
    "HASH_RE",
    "KINDS",
    "MINHASH_SCHEME",
    "MINHASH_THRESHOLD",
    "PALISADE_IDENTITY_ID",
    "PROMPT_SIGNATURE_EXTENSION_ID",
    "REPORT_EXTENSION_ID",
    "TLP_MARKING_IDS",
    "TLP_NAMES_BY_ID",
    "ConsortiumKey",
    "ConsortiumKeyring",
    "InvalidHash",
    "InvalidIdentifier",
    "InvalidKeyFile",
    "InvalidSignature",
    "PromptSignature",
    "build_pattern",
    "covering_prefixes",
    "decode_signature",
    "encode_signature",
    "estimate_jaccard",
    "extension_definitions_bundle",
    "generate_keyring",
    "hash_identifier",
    "hash_many",
    "hash_prefixes",
    "hash_value",
    "hashed_identifier_sco",
    "hasher",
    "load_keyring",
    "lsh_band_hashes",
    "normalise",
    "parse_hash",
    "parse_pattern",
    "prompt_signature",
    "prompt_signature_extension",
    "warning_for",
    "write_keyring",
]
