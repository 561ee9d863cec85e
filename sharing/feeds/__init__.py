"""Feeds: what each member may pull, as TAXII collections over the append-only feed log.

No Flask imports. ``sharing.taxii`` is a thin HTTP layer over :func:`read_page` (objects,
manifest, versions), :func:`list_collections` and :func:`withdraw`.
"""

from sharing.feeds.collections import Collection
from sharing.feeds.query import Filters
from sharing.feeds.service import (
    Page,
    find_collection,
    list_collections,
    max_page_size,
    read_page,
    require_object,
)
from sharing.feeds.withdraw import withdraw

__all__ = [
    "Collection",
    "Filters",
    "Page",
    "find_collection",
    "list_collections",
    "max_page_size",
    "read_page",
    "require_object",
    "withdraw",
]
