"""The authenticated caller, as every service sees it, whichever door it came through."""

from __future__ import annotations

from dataclasses import dataclass, field

from sharing.audit import Actor
from sharing.errors import Forbidden


@dataclass(frozen=True)
class Principal:
    org_id: int
    org_name: str
    scopes: frozenset[str]
    role: str = "member"  # member | org-admin | platform-admin (API keys act as members)
    user_id: str | None = None
    username: str | None = None
    api_key_prefix: str | None = None
    group_ids: frozenset[int] = field(default_factory=frozenset)
    # Set when the key's last-used time is stale and the adapter should record this use.
    api_key_id: int | None = field(default=None, compare=False)

    @property
    def actor(self) -> Actor:
        label = f"user:{self.username}" if self.username else f"key:{self.api_key_prefix}"
        return Actor(label, self.org_id)

    @property
    def is_platform_admin(self) -> bool:
        return self.role == "platform-admin"

    @property
    def is_org_admin(self) -> bool:
        return self.role in {"org-admin", "platform-admin"}

    def require_scope(self, scope: str) -> None:
        if scope not in self.scopes:
            raise Forbidden(f"this credential lacks the '{scope}' scope")

    def require_org_admin(self) -> None:
        if not self.is_org_admin:
            raise Forbidden("this needs an organization administrator")

    def require_platform_admin(self) -> None:
        if not self.is_platform_admin:
            raise Forbidden("this needs a platform administrator")
