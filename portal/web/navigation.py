"""The navigation bar: each entry shows to the roles its permission grants."""

from __future__ import annotations

from dataclasses import dataclass

from portal.tenancy.roles import Permission


@dataclass(frozen=True)
class NavItem:
    label: str
    endpoint: str
    permission: Permission
    menu: str | None = None  # shown inside the menu of this name, not on the bar itself


@dataclass(frozen=True)
class NavMenu:
    """Entries folded into one menu of the bar, so that the bar fits a laptop's width."""

    label: str
    items: tuple[NavItem, ...]

    @property
    def endpoints(self) -> frozenset[str]:
        return frozenset(item.endpoint for item in self.items)


NAVIGATION = (
    NavItem("Inbox", "inbox.index", Permission.WORK_INBOX),
    NavItem("My leads", "inbox.leads", Permission.WORK_INBOX),
    NavItem("Leads", "leads.index", Permission.VIEW_LEADS),
    NavItem("My partner", "partners.mine", Permission.WORK_INBOX),
    NavItem("My scorecard", "scorecards.mine", Permission.WORK_INBOX),
    NavItem("My statements", "incentives.mine", Permission.WORK_INBOX),
    NavItem("Partners", "partners.index", Permission.VIEW_NETWORK),
    NavItem("Network", "web.network", Permission.VIEW_NETWORK),
    NavItem("Scorecards", "scorecards.index", Permission.VIEW_SCORECARDS),
    NavItem("Incentives", "incentives.plan", Permission.REVIEW_PERFORMANCE),
    NavItem("Users", "admin.users", Permission.MANAGE_USERS, "Admin"),
    NavItem("API keys", "admin.api_keys", Permission.MANAGE_API_KEYS, "Admin"),
    NavItem("Webhooks", "webhooks.index", Permission.MANAGE_WEBHOOKS, "Admin"),
    NavItem("Audit log", "admin.audit_log", Permission.VIEW_AUDIT, "Admin"),
    NavItem("Export", "admin.export", Permission.EXPORT_DATA, "Admin"),
)


def items_for(user: object) -> list[NavItem]:
    """The entries this user may open, in display order."""
    can = getattr(user, "can", None)
    if can is None:
        return []
    return [item for item in NAVIGATION if can(item.permission)]


def bar_for(user: object) -> list[NavItem | NavMenu]:
    """The bar this user sees: their entries in display order, those of a menu gathered into
    it where its first entry stands."""
    order: list[NavItem | str] = []  # an entry, or the name of a menu where it stands
    menus: dict[str, list[NavItem]] = {}
    for item in items_for(user):
        if item.menu is None:
            order.append(item)
            continue
        if item.menu not in menus:
            order.append(item.menu)
        menus.setdefault(item.menu, []).append(item)
    return [NavMenu(e, tuple(menus[e])) if isinstance(e, str) else e for e in order]


@dataclass(frozen=True)
class Section:
    title: str
    endpoint: str
    explains: str


# The configuration of a channel programme, in the order a new tenant sets it up.
NETWORK_SECTIONS = (
    Section("Tiers", "tiers.index", "The partner levels, their order and routing weight."),
    Section("SLA policies", "sla.index", "How long partners have to answer, and reminders."),
    Section(
        "Territories", "territories.index", "Regions, countries, subdivisions, postal prefixes."
    ),
    Section("Products", "products.index", "Product lines and the products partners sell."),
    Section("Partners", "partners.index", "Who is in the network and what each one covers."),
    Section("Segment rules", "routing.segments", "Minimum tier or certification for large leads."),
    Section("Routing", "routing.settings", "How much each term weighs when choosing a partner."),
    Section(
        "Qualification", "qualification.index", "Scoring rules, the MQL threshold, required fields."
    ),
    Section(
        "Rejection reasons",
        "rejection_reasons.index",
        "What partners may answer when they decline.",
    ),
)
