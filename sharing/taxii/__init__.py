"""TAXII 2.1 server at ``/taxii2/``: a thin HTTP layer over ``sharing.feeds`` and ingest.

See docs/TAXII.md for the collections, filters, paging tokens and what DELETE means here.
"""

from sharing.taxii.views import blueprint

__all__ = ["blueprint"]
