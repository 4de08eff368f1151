"""The lead life cycle: states, the actions between them, and which moves are legal."""

from __future__ import annotations

from enum import StrEnum


class LeadState(StrEnum):
    NEW = "new"
    NURTURE = "nurture"
    MQL = "mql"
    OFFERED = "offered"
    UNROUTABLE = "unroutable"
    ACCEPTED = "accepted"
    SQL = "sql"
    WON = "won"
    LOST = "lost"
    MERGED = "merged"
    # The tenant's fallback sends leads no partner can take to the vendor's own sales team.
    DIRECT_SALES = "direct_sales"


class Action(StrEnum):
    SCORE_BELOW = "score_below"
    SCORE_ABOVE = "score_above"
    ROUTE = "route"
    NO_PARTNER = "no_partner"
    ACCEPT = "accept"
    REJECT = "reject"
    EXPIRE = "expire"
    RECALL = "recall"
    ASSIGN = "assign"
    QUALIFY = "qualify"
    WIN = "win"
    LOSE = "lose"
    MERGE = "merge"
    TO_DIRECT_SALES = "to_direct_sales"


class IllegalTransition(ValueError):
    """The action is not allowed from the lead's current state."""

    def __init__(self, state: LeadState, action: Action) -> None:
        super().__init__(f"a lead in state {state.value!r} cannot {action.value.replace('_', ' ')}")
        self.state = state
        self.action = action


S, A = LeadState, Action

# Reject, expire and recall send the lead back to be routed to the next partner.
TRANSITIONS: dict[tuple[LeadState, Action], LeadState] = {
    (S.NEW, A.SCORE_BELOW): S.NURTURE,
    (S.NEW, A.SCORE_ABOVE): S.MQL,
    (S.NURTURE, A.SCORE_BELOW): S.NURTURE,
    (S.NURTURE, A.SCORE_ABOVE): S.MQL,
    (S.MQL, A.ROUTE): S.OFFERED,
    (S.MQL, A.NO_PARTNER): S.UNROUTABLE,
    (S.UNROUTABLE, A.ASSIGN): S.OFFERED,
    # A manager reassigning a lead recalls its offer, then assigns it from mql.
    (S.MQL, A.ASSIGN): S.OFFERED,
    (S.UNROUTABLE, A.ROUTE): S.OFFERED,
    (S.OFFERED, A.ACCEPT): S.ACCEPTED,
    (S.OFFERED, A.REJECT): S.MQL,
    (S.OFFERED, A.EXPIRE): S.MQL,
    (S.OFFERED, A.RECALL): S.MQL,
    (S.ACCEPTED, A.QUALIFY): S.SQL,
    (S.ACCEPTED, A.LOSE): S.LOST,
    (S.SQL, A.WIN): S.WON,
    (S.SQL, A.LOSE): S.LOST,
    # A duplicate is merged into the lead it repeats only while no partner holds it.
    (S.NEW, A.MERGE): S.MERGED,
    (S.NURTURE, A.MERGE): S.MERGED,
    (S.MQL, A.MERGE): S.MERGED,
    (S.UNROUTABLE, A.MERGE): S.MERGED,
    (S.MQL, A.TO_DIRECT_SALES): S.DIRECT_SALES,
    (S.UNROUTABLE, A.TO_DIRECT_SALES): S.DIRECT_SALES,
}

TERMINAL = frozenset({S.WON, S.LOST, S.MERGED, S.DIRECT_SALES})


def states_allowing(action: Action | str) -> frozenset[LeadState]:
    """The states from which this action is legal."""
    act = Action(action)
    return frozenset(from_state for (from_state, a) in TRANSITIONS if a is act)


def next_state(state: LeadState | str, action: Action | str) -> LeadState:
    """The state a lead moves to by this action; IllegalTransition if it may not."""
    current, act = LeadState(state), Action(action)
    try:
        return TRANSITIONS[(current, act)]
    except KeyError:
        raise IllegalTransition(current, act) from None


def allowed_actions(state: LeadState | str) -> list[Action]:
    """The actions that are legal from this state, in a stable order."""
    current = LeadState(state)
    return [action for (from_state, action) in TRANSITIONS if from_state is current]
