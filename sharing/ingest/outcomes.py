"""Per-object outcomes and the TAXII-shaped status resource built from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple


@lru_cache(maxsize=4096)
def stix_timestamp(value: datetime) -> str:
    """STIX/TAXII timestamp with microsecond precision."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Outcome(NamedTuple):
    """One object's verdict. A named tuple: a bundle makes tens of thousands of them."""

    index: int
    object_id: str | None
    version: str | None
    ok: bool
    message: str

    def as_status_detail(self) -> dict[str, Any]:
        detail: dict[str, Any] = {"id": self.object_id or f"objects[{self.index}]"}
        if self.version:
            detail["version"] = self.version
        detail["message"] = self.message
        return detail


@dataclass
class StatusReport:
    id: str
    request_timestamp: datetime
    outcomes: list[Outcome] = field(default_factory=list)
    _details: tuple[list[Outcome], int, list[dict[str, Any]], list[dict[str, Any]]] | None = field(
        default=None, repr=False, compare=False
    )

    @property
    def successes(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.ok]

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]

    def details(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Status details of the successes and the failures, built once per final outcome list
        (the response and the stored copy share them)."""
        cached = self._details
        if cached is None or cached[0] is not self.outcomes or cached[1] != len(self.outcomes):
            successes = [o.as_status_detail() for o in self.outcomes if o.ok]
            failures = [o.as_status_detail() for o in self.outcomes if not o.ok]
            cached = self._details = (self.outcomes, len(self.outcomes), successes, failures)
        return cached[2], cached[3]

    def as_taxii(self) -> dict[str, Any]:
        successes, failures = self.details()
        return {
            "id": self.id,
            "status": "complete",
            "request_timestamp": stix_timestamp(self.request_timestamp),
            "total_count": len(self.outcomes),
            "success_count": len(successes),
            "successes": successes,
            "failure_count": len(failures),
            "failures": failures,
            "pending_count": 0,
            "pendings": [],
        }
