"""The lead life cycle's legal moves, tested as plain Python."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.leads.lifecycle import (
    TERMINAL,
    TRANSITIONS,
    Action,
    IllegalTransition,
    LeadState,
    allowed_actions,
    next_state,
    states_allowing,
)


def test_a_new_lead_scored_above_the_threshold_becomes_an_mql():
    assert next_state(LeadState.NEW, Action.SCORE_ABOVE) is LeadState.MQL


def test_a_rejected_or_expired_offer_sends_the_lead_back_to_routing():
    for action in (Action.REJECT, Action.EXPIRE, Action.RECALL):
        assert next_state(LeadState.OFFERED, action) is LeadState.MQL


def test_a_won_lead_cannot_be_accepted_again():
    with pytest.raises(IllegalTransition, match="'won' cannot accept"):
        next_state(LeadState.WON, Action.ACCEPT)


def test_unknown_states_and_actions_are_errors_not_silent_no_ops():
    with pytest.raises(ValueError):
        next_state("bogus", Action.ACCEPT)
    with pytest.raises(ValueError):
        next_state(LeadState.NEW, "bogus")


@given(st.sampled_from(list(LeadState)), st.sampled_from(list(Action)))
def test_every_pair_either_moves_as_the_table_says_or_raises(state, action):
    if (state, action) in TRANSITIONS:
        assert next_state(state, action) is TRANSITIONS[(state, action)]
        assert action in allowed_actions(state)
    else:
        with pytest.raises(IllegalTransition):
            next_state(state, action)
        assert action not in allowed_actions(state)


def test_terminal_states_allow_nothing():
    for state in TERMINAL:
        assert allowed_actions(state) == []


def test_every_state_is_reachable_from_new():
    reached, frontier = {LeadState.NEW}, [LeadState.NEW]
    while frontier:
        state = frontier.pop()
        for action in allowed_actions(state):
            target = next_state(state, action)
            if target not in reached:
                reached.add(target)
                frontier.append(target)
    assert reached == set(LeadState)


def test_a_lead_no_partner_holds_can_be_merged_and_then_nothing_more():
    for state in (LeadState.NEW, LeadState.NURTURE, LeadState.MQL, LeadState.UNROUTABLE):
        assert next_state(state, Action.MERGE) is LeadState.MERGED
    assert LeadState.MERGED in TERMINAL
    assert allowed_actions(LeadState.MERGED) == []


def test_a_lead_with_a_partner_or_closed_cannot_be_merged():
    for state in (LeadState.OFFERED, LeadState.ACCEPTED, LeadState.SQL, LeadState.WON):
        with pytest.raises(IllegalTransition, match="cannot merge"):
            next_state(state, Action.MERGE)


def test_the_states_allowing_merge_are_those_the_table_lists():
    assert states_allowing(Action.MERGE) == {
        LeadState.NEW,
        LeadState.NURTURE,
        LeadState.MQL,
        LeadState.UNROUTABLE,
    }
    assert states_allowing("win") == {LeadState.SQL}
