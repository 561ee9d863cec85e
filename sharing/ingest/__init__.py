"""Ingest: STIX 2.1 bundles in, validated, deduplicated, encrypted, marked and never lost.

No Flask imports. ``submit_bundle`` is the single entry point for REST, TAXII and the portal.
"""

from sharing.ingest.service import get_status, submit_bundle

__all__ = ["get_status", "submit_bundle"]
