"""Fixed identifiers and parameters of the Palisade identifier spec (v1).

These values are a contract between the member client, the browser implementation and the
server: changing any of them changes every hash or STIX id that members have already exchanged.
They live in one module so that the spec document, the test vectors and the code cannot drift.
"""

from __future__ import annotations

from typing import Final

#: Indicator kinds, in the order DESIGN.md lists them.
KINDS: Final[tuple[str, ...]] = ("email", "phone", "payment", "handle", "device", "ip", "prompt")

#: Prefix of every exact hash string: ``hmac-sha256:<key_id>:<64 hex>``.
HASH_ALGORITHM: Final = "hmac-sha256"
#: Byte that separates the kind from the normalised value inside the HMAC input.
KIND_SEPARATOR: Final = b"\x1f"

#: Consortium key ids: short, lowercase, safe in a hash string, a file name and a URL.
KEY_ID_PATTERN: Final = r"[a-z0-9][a-z0-9-]{0,31}"
#: Consortium secrets are exactly this many random bytes.
SECRET_LENGTH: Final = 32
KEYFILE_FORMAT: Final = "palisade-consortium-key/1"

# --- STIX ids (fixed; published in schemas/extension-definitions.json) ---------------------
HASHED_IDENTIFIER_EXTENSION_ID: Final = "extension-definition--b37878c8-5959-4023-a773-555fb2b9f6cc"
PROMPT_SIGNATURE_EXTENSION_ID: Final = "extension-definition--660c9802-d788-49eb-8ab8-356936b5c504"
CORROBORATION_EXTENSION_ID: Final = "extension-definition--2ec90411-5dba-42c6-8485-3ef78046305c"
#: Property-extension a member puts on what it submits: ``anonymous`` and ``sharing_group``.
REPORT_EXTENSION_ID: Final = "extension-definition--f0a96e34-acfe-49d7-b749-2829ecc56ec1"
PALISADE_IDENTITY_ID: Final = "identity--deb2df9b-761e-420a-8dfa-3fbcc1e74a96"
#: Timestamp of the published extension definitions and identity (they never change in v1).
EXTENSION_DEFINITIONS_CREATED: Final = "2026-11-27T00:00:00.000Z"

#: STIX Cyber-observable type defined by the hashed-identifier extension.
HASHED_IDENTIFIER_TYPE: Final = "hashed-identifier"

#: Official OASIS TLP 2.0 marking-definition ids (STIX 2.1 "TLP 2.0" extension).
TLP_MARKING_IDS: Final[dict[str, str]] = {
    "clear": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "green": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "amber": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "amber+strict": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "red": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
TLP_NAMES_BY_ID: Final[dict[str, str]] = {v: k for k, v in TLP_MARKING_IDS.items()}

# --- Length limits (characters, after trimming) ---------------------------------------------
MAX_VALUE_LENGTH: Final = 4096
MAX_PROMPT_LENGTH: Final = 100_000

# --- IP prefix expansion ---------------------------------------------------------------------
#: Prefix lengths a client hashes to ask about an IPv4 address: every bit from /8 to /32.
IPV4_PREFIX_LENGTHS: Final[tuple[int, ...]] = tuple(range(32, 7, -1))
#: IPv6: /16 to /128 in steps of 4 (nibble boundaries, so ranges written in hex line up).
IPV6_PREFIX_LENGTHS: Final[tuple[int, ...]] = tuple(range(128, 15, -4))
#: Submissions broader than these are refused unless forced.
IPV4_BROADEST_PREFIX: Final = 16
IPV6_BROADEST_PREFIX: Final = 32

# --- Prompt MinHash (scheme palisade-minhash-v1, see docs/PROMPT_SIGNATURES.md) ----------------
MINHASH_SCHEME: Final = "palisade-minhash-v1"
#: Domain-separation label for deriving the MinHash key K_p from the consortium secret.
MINHASH_KEY_LABEL: Final = b"palisade-minhash-v1"
MINHASH_PERMUTATIONS: Final = 128
#: Mersenne prime 2^61 - 1: the universal-hash modulus.
MINHASH_PRIME: Final = (1 << 61) - 1
MINHASH_VALUE_BITS: Final = 32
MINHASH_SHINGLE_SIZE: Final = 1
MINHASH_BANDS: Final = 20
MINHASH_ROWS_PER_BAND: Final = 6
#: Default similarity at which a prompt signature counts as a match.
MINHASH_THRESHOLD: Final = 0.8
