"""The plain values routing works on: a tenant's configuration, a lead's facts, current load.

Services build these from rows; the index (portal.routing.index) and the engine
(portal.routing.engine) read nothing else. Standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from portal.routing.segments import Segment

ACTIVE = "active"
# A partner without a scorecard yet is neither favoured nor held back.
NEUTRAL_QUALITY = 50
MAX_QUALITY = 100
# The tier's routing weight is set from 0 to 100 (portal.partners.sla_rules).
MAX_TIER_WEIGHT = 100


@dataclass(frozen=True, slots=True)
class TerritoryConfig:
    """A territory as configured: one node of global > region > country > subdivision > postal."""

    id: int
    kind: str  # "global", "region", "country", "subdivision" or "postal"
    code: str = ""
    name: str = ""
    country: str | None = None  # ISO 3166-1, for country, subdivision and postal
    subdivision: str | None = None  # ISO 3166-2, for subdivision
    postal_prefix: str | None = None  # for postal
    region_countries: tuple[str, ...] = ()  # for region


@dataclass(frozen=True, slots=True)
class PartnerConfig:
    """A partner as routing sees it: status, capacity, tier, quality, coverage."""

    id: int
    name: str
    status: str  # "active", "paused" or "suspended"; only active partners get leads
    capacity: int  # at most this many open offers plus accepted leads not yet closed
    tier_rank: int  # 1 is the top tier
    tier_weight: int  # the tier's routing weight, 0 to 100
    tier_name: str = ""
    quality: int | None = None  # scorecard quality 0 to 100; None: no scorecard yet
    territory_ids: tuple[int, ...] = ()
    products: Mapping[int, int] = field(default_factory=dict)  # product id -> certification 0-3

    @property
    def quality_or_neutral(self) -> int:
        return NEUTRAL_QUALITY if self.quality is None else self.quality


@dataclass(frozen=True, slots=True)
class Weights:
    """The routing settings' weights of the score's terms; only their proportions matter."""

    territory: int = 40
    tier: int = 20
    quality: int = 20
    capacity: int = 10
    fairness: int = 10

    def points(self) -> dict[str, float]:
        """Each term's share of a 100-point score; all zero when every weight is zero."""
        weights = {
            "territory": self.territory,
            "tier": self.tier,
            "quality": self.quality,
            "capacity": self.capacity,
            "fairness": self.fairness,
        }
        total = sum(weights.values())
        return {name: (w * 100 / total if total > 0 else 0.0) for name, w in weights.items()}


class FallbackKind(StrEnum):
    NONE = "none"  # the lead waits in the unroutable queue
    PARTNER = "partner"  # a default partner takes what nobody else can
    DIRECT_SALES = "direct_sales"  # the vendor's own sales team takes it


@dataclass(frozen=True, slots=True)
class Fallback:
    """Where a lead goes when no partner is eligible."""

    kind: FallbackKind = FallbackKind.NONE
    partner_id: int | None = None


@dataclass(frozen=True, slots=True)
class FairnessCap:
    """No partner gets more than max_share of a territory's offers in the rolling window.

    The caller counts the offers of the window (Load.territory_offers); window says how
    long that is, for the record. Below min_offers in a territory the cap does not apply,
    because the first offers of a quiet territory would otherwise all be "over" it.
    """

    max_share: float  # 0 < max_share <= 1
    window: timedelta = timedelta(days=30)
    min_offers: int = 10


@dataclass(frozen=True)
class RoutingConfig:
    """One tenant's routing configuration at one configuration version (ids unique)."""

    version: int
    partners: tuple[PartnerConfig, ...]
    territories: tuple[TerritoryConfig, ...]
    segments: tuple[Segment, ...] = ()
    weights: Weights = Weights()
    fallback: Fallback = Fallback()
    fairness_cap: FairnessCap | None = None
    # The fairness term is one half for a partner last offered a lead this long ago, tends
    # to one as it waits longer, and is one for a partner never offered a lead.
    fairness_midpoint: timedelta = timedelta(days=1)
    product_names: Mapping[int, str] = field(default_factory=dict)


def postal_key(text: str | None) -> str:
    """A postal code or prefix as compared: upper case, without spaces or dashes."""
    return (text or "").upper().replace(" ", "").replace("-", "")


@dataclass(frozen=True, slots=True)
class LeadFacts:
    """What routing needs to know about a lead; place is worked out from it once."""

    product_id: int | None
    country: str | None = None  # ISO 3166-1
    subdivision: str | None = None  # ISO 3166-2
    postal_code: str | None = None
    employees: int | None = None
    deal_size_minor: int | None = None
    currency: str | None = None
    # Partners that already had an offer of this lead, whatever became of it.
    partners_had: frozenset[int] = frozenset()
    # Country, subdivision and postal key as routing compares them ("" when unknown); the
    # country comes from the subdivision when only that is known.
    place: tuple[str, str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        subdivision = (self.subdivision or "").upper()
        country = (self.country or subdivision[:2]).upper()
        object.__setattr__(self, "place", (country, subdivision, postal_key(self.postal_code)))


@dataclass(frozen=True, slots=True)
class PartnerLoad:
    """How busy a partner is now, and when it was last offered a lead."""

    open_offers: int = 0
    accepted_open: int = 0  # accepted leads not yet won or lost
    last_offered_at: datetime | None = None

    @property
    def busy(self) -> int:
        return self.open_offers + self.accepted_open


@dataclass(frozen=True, slots=True)
class TerritoryOffers:
    """The offers made in one territory during the fairness window, in total and by partner."""

    total: int
    by_partner: Mapping[int, int] = field(default_factory=dict)

    def share(self, partner_id: int) -> float:
        return self.by_partner.get(partner_id, 0) / self.total if self.total > 0 else 0.0


NO_LOAD = PartnerLoad()


@dataclass(frozen=True)
class Load:
    """Current load: per partner id, and per territory id for the fairness cap.

    A partner missing from partners has no offers; a territory missing from
    territory_offers had none in the window. A decision reads this again when its
    ranking or exclusions are first asked for, so leave the mappings unchanged until then.
    Times are timezone-aware; give them, and route()'s now, in datetime.UTC as the app's
    columns do: times in two different tzinfo objects subtract several times slower.
    """

    partners: Mapping[int, PartnerLoad] = field(default_factory=dict)
    territory_offers: Mapping[int, TerritoryOffers] = field(default_factory=dict)
