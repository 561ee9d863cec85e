"""Per-object outcomes and the TAXII-shaped status resource built from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=4096)
def stix_timestamp(value: datetime) -> str:
    """STIX/TAXII timestamp with microsecond precision."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Outcome:
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

    @property
    def successes(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.ok]

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]

    def as_taxii(self) -> dict[str, Any]:
        successes = self.successes
        failures = self.failures
        return {
            "id": self.id,
            "status": "complete",
            "request_timestamp": stix_timestamp(self.request_timestamp),
            "total_count": len(self.outcomes),
            "success_count": len(successes),
            "successes": [o.as_status_detail() for o in successes],
            "failure_count": len(failures),
            "failures": [o.as_status_detail() for o in failures],
            "pending_count": 0,
            "pendings": [],
        }
