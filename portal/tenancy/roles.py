"""Roles and what each may do: the single table every access decision reads."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    CHANNEL_MANAGER = "channel_manager"
    VENDOR_STAFF = "vendor_staff"
    PARTNER_USER = "partner_user"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class Permission(StrEnum):
    MANAGE_USERS = "manage_users"
    MANAGE_API_KEYS = "manage_api_keys"
    VIEW_AUDIT = "view_audit"
    MANAGE_NETWORK = "manage_network"
    VIEW_NETWORK = "view_network"
    VIEW_LEADS = "view_leads"
    MANAGE_LEADS = "manage_leads"
    REVIEW_PERFORMANCE = "review_performance"
    VIEW_SCORECARDS = "view_scorecards"
    WORK_INBOX = "work_inbox"
    MANAGE_WEBHOOKS = "manage_webhooks"
    EXPORT_DATA = "export_data"


_ALL_VENDOR_SIDE = {Role.ADMIN, Role.CHANNEL_MANAGER, Role.VENDOR_STAFF}

GRANTS: dict[Permission, frozenset[Role]] = {
    Permission.MANAGE_USERS: frozenset({Role.ADMIN}),
    Permission.MANAGE_API_KEYS: frozenset({Role.ADMIN}),
    Permission.VIEW_AUDIT: frozenset({Role.ADMIN}),
    Permission.MANAGE_NETWORK: frozenset({Role.ADMIN, Role.CHANNEL_MANAGER}),
    Permission.VIEW_NETWORK: frozenset(_ALL_VENDOR_SIDE),
    Permission.VIEW_LEADS: frozenset(_ALL_VENDOR_SIDE),
    Permission.MANAGE_LEADS: frozenset({Role.ADMIN, Role.CHANNEL_MANAGER}),
    Permission.REVIEW_PERFORMANCE: frozenset({Role.ADMIN, Role.VENDOR_STAFF}),
    Permission.VIEW_SCORECARDS: frozenset(_ALL_VENDOR_SIDE),
    Permission.WORK_INBOX: frozenset({Role.PARTNER_USER}),
    Permission.MANAGE_WEBHOOKS: frozenset({Role.ADMIN}),
    # The whole tenant in one file: leads and contacts of every partner, statements, the audit.
    Permission.EXPORT_DATA: frozenset({Role.ADMIN}),
}


def can(role: Role | str, permission: Permission) -> bool:
    """Whether a user holding this role may do what the permission names."""
    return Role(role) in GRANTS[permission]


def requires_partner(role: Role | str) -> bool:
    """Partner users act for exactly one partner; no other role belongs to one."""
    return Role(role) is Role.PARTNER_USER
