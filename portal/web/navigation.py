"""The navigation bar: each entry shows to the roles its permission grants."""

from __future__ import annotations

from dataclasses import dataclass

from portal.tenancy.roles import Permission


@dataclass(frozen=True)
class NavItem:
    label: str
    endpoint: str
    permission: Permission


NAVIGATION = (
    NavItem("Inbox", "leads.inbox", Permission.WORK_INBOX),
    NavItem("Leads", "leads.index", Permission.VIEW_LEADS),
    NavItem("Partners", "partners.index", Permission.VIEW_NETWORK),
    NavItem("Users", "admin.users", Permission.MANAGE_USERS),
    NavItem("API keys", "admin.api_keys", Permission.MANAGE_API_KEYS),
    NavItem("Audit log", "admin.audit_log", Permission.VIEW_AUDIT),
)


def items_for(user: object) -> list[NavItem]:
    """The entries this user may open, in display order."""
    can = getattr(user, "can", None)
    if can is None:
        return []
    return [item for item in NAVIGATION if can(item.permission)]
