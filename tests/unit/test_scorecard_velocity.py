"""Pipeline velocity: stages timed from the event that began them to the one that ended them."""

from datetime import UTC, datetime, timedelta

from portal.scorecards.velocity import EventFact, passes, velocity

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
START, END = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)


def event(lead, action, to_state, hours, partner=None, product=7):
    return EventFact(lead, action, to_state, T0 + timedelta(hours=hours), partner, product)


def test_each_stage_is_timed_from_its_latest_beginning():
    events = [
        event(1, "score_above", "mql", 0),
        event(1, "route", "offered", 1, partner=10),
        event(1, "reject", "mql", 3, partner=10),  # back to MQL: the next offer counts from here
        event(1, "route", "offered", 3.5, partner=11),
        event(1, "accept", "accepted", 5.5, partner=11),
        event(1, "qualify", "sql", 29.5, partner=11),
        event(1, "win", "won", 77.5, partner=11),
    ]
    got = {(p.stage, p.partner_id): p.hours for p in passes(events, START, END)}
    assert got == {
        ("mql_to_offer", 10): 1.0,
        ("mql_to_offer", 11): 0.5,
        ("offer_to_sal", 11): 2.0,
        ("sal_to_sql", 11): 24.0,
        ("sql_to_won", 11): 48.0,
    }


def test_only_stages_that_end_in_the_period_count():
    events = [event(2, "score_above", "mql", -100), event(2, "route", "offered", -99, 10)]
    assert passes(events, START, END) == []  # T0 - 99 h is in October
    later = [*events, event(2, "accept", "accepted", 1, 10)]
    assert [(p.stage, p.hours) for p in passes(later, START, END)] == [("offer_to_sal", 100.0)]


def test_medians_and_percentiles_by_group():
    events = [
        e
        for lead, wait in enumerate([1, 2, 3, 4, 10], start=1)
        for e in (
            event(lead, "score_above", "mql", 0),
            event(lead, "route", "offered", wait, lead % 2),
        )
    ]
    by_partner = velocity(passes(events, START, END), lambda p: p.partner_id)
    odd = by_partner[1]["mql_to_offer"]
    assert (odd.count, odd.median_h, odd.p90_h) == (3, 3.0, 10.0)
    assert by_partner[0]["mql_to_offer"].median_h == 2.0
    assert velocity([], lambda p: p.partner_id) == {}
