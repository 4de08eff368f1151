"""Taking leads in by the batch: the same outcome as take_in one by one, in one transaction."""

import threading
from datetime import timedelta

import sqlalchemy as sa

from portal.db import utcnow
from portal.extensions import db
from portal.leads import bulk_intake, intake
from portal.leads.bulk_intake import ItemResult, take_in_batch
from portal.leads.models import Lead, LeadEvent, QualificationSettings, ScoringRule
from portal.tenancy.scoping import tenant_scope
from tests.conftest import BACKEND, build_tenant, fresh_database, make_app
from tests.factories import ProductFactory

BANT = {"budget": "yes", "authority": "yes", "need": "Backups for 40 sites", "timeline": "Q1"}


def _programme(app, tenant_id, threshold=30):
    with app.app_context(), tenant_scope(tenant_id):
        ProductFactory(code="CB", name="Cloud Backup")
        ProductFactory(code="DR", name="Disaster Recovery")
        db.session.add(ScoringRule(field="industry", operator="in", values=["Banking"], points=20))
        db.session.add(
            ScoringRule(field="employees", operator="between", values=[200, None], points=15)
        )
        db.session.scalar(sa.select(QualificationSettings)).mql_threshold = threshold
        db.session.commit()


def _lead(n=1, **overrides):
    data = {
        "company_name": f"Nordbank {n} AG", "company_domain": f"nordbank{n}.example",
        "industry": "Banking", "employees": "1,200", "contact_name": "Eva Storm",
        "contact_email": f"eva@nordbank{n}.example", "job_title": "CIO", "country": "de",
        "subdivision": "DE-HH", "postal_code": "20095", "city": "Hamburg", "product": "cb",
        "deal_size": "48,000.50", "currency": "EUR", "bant": BANT,
    }  # fmt: skip
    data.update(overrides)
    return data


def _batch(app, tenant_id, items, actor="api@tenant.example", channel="the API"):
    with app.app_context(), tenant_scope(tenant_id):
        return take_in_batch(items, actor=actor, channel=channel)


def _leads(app, tenant_id):
    with app.app_context(), tenant_scope(tenant_id):
        return list(db.session.scalars(sa.select(Lead).order_by(Lead.id)))


def _outcome(app, tenant_id, lead_id):
    """What take_in decides about a lead: state, score and why, and its events."""
    with app.app_context(), tenant_scope(tenant_id):
        lead = db.session.get(Lead, lead_id)
        # Routing's events carry the time and configuration version of their decision.
        events = [
            (e.action, e.from_state, e.to_state, e.actor_label, e.reason)
            + ((e.data,) if e.actor_label != "routing" else ())
            for e in db.session.scalars(
                sa.select(LeadEvent).where(LeadEvent.lead_id == lead_id).order_by(LeadEvent.id)
            )
        ]
        return (lead.state, lead.score, lead.score_breakdown, lead.deal_size_minor, events)


def _statuses(results):
    return [(r.index, r.status) for r in results]


def test_valid_items_are_created_and_scored_exactly_as_take_in_scores_them(app, world):
    for tenant_id in (world.a.id, world.b.id):
        _programme(app, tenant_id)
    items = [_lead(1), _lead(2, industry="Retail", bant={}), _lead(3, product=None)]
    results = _batch(app, world.a.id, items)
    assert _statuses(results) == [(0, "created"), (1, "created"), (2, "created")]
    with app.app_context(), tenant_scope(world.b.id):
        singles = [
            intake.take_in(item, actor="api@tenant.example", channel="the API").lead.id
            for item in items
        ]
    for result, single in zip(results, singles, strict=True):
        assert _outcome(app, world.a.id, result.lead_id) == _outcome(app, world.b.id, single)
    states = [_outcome(app, world.a.id, r.lead_id)[0] for r in results]
    # The MQLs went on to routing, which found no partner for them in this programme.
    assert states == ["unroutable", "nurture", "unroutable"]


def test_a_lead_missing_a_required_answer_goes_to_nurture_and_the_event_says_which(app, world):
    _programme(app, world.a.id)
    [result] = _batch(app, world.a.id, [_lead(bant={**BANT, "timeline": ""})])
    state, score, _, _, events = _outcome(app, world.a.id, result.lead_id)
    assert (state, score) == ("nurture", 35)
    assert events[-1][:3] == ("score_below", None, "nurture")
    assert "timeline is missing" in events[-1][4]
    assert events[-1][5] == {"score": 35, "missing": ["timeline"]}


def test_invalid_items_get_their_field_errors_and_never_stop_the_valid_ones(app, world):
    _programme(app, world.a.id)
    bad = _lead(2, contact_email="not-mail", product="NOPE", employees="many", company_name="")
    results = _batch(app, world.a.id, [_lead(1), bad, "not a lead", _lead(3)])
    assert _statuses(results) == [(0, "created"), (1, "invalid"), (2, "invalid"), (3, "created")]
    assert set(results[1].errors) == {"contact_email", "product", "employees", "company_name"}
    assert "NOPE" in results[1].errors["product"] and results[1].lead_id is None
    assert set(results[2].errors) == {"lead"}
    assert results[0].errors == {} and results[3].errors == {}
    assert [lead.id for lead in _leads(app, world.a.id)] == [results[0].lead_id, results[3].lead_id]


def test_known_external_ids_answer_with_the_lead_already_there(app, world):
    _programme(app, world.a.id)
    with app.app_context(), tenant_scope(world.a.id):
        stored = intake.take_in(_lead(1, external_id="crm-1"), actor="api", channel="the API")
    items = [
        _lead(9, external_id=" crm-1 "),
        _lead(2, external_id="crm-2"),
        _lead(3, external_id="crm-2"),
        _lead(4, external_id="crm-1"),
        _lead(5, external_id="crm-3", contact_email="bad"),
        _lead(6, external_id="crm-3"),
    ]
    results = _batch(app, world.a.id, items)
    created = results[1].lead_id
    assert [(r.status, r.lead_id) for r in results] == [
        ("existing", stored.lead.id),
        ("created", created),
        ("existing", created),
        ("existing", stored.lead.id),
        ("invalid", None),
        ("created", results[5].lead_id),
    ]
    assert len(_leads(app, world.a.id)) == 3


def test_likely_duplicates_are_flagged_against_stored_leads_and_within_the_batch(app, world):
    _programme(app, world.a.id)
    with app.app_context(), tenant_scope(world.a.id):
        stored = intake.take_in(_lead(1), actor="api", channel="the API").lead.id
    items = [
        _lead(2, contact_email="eva@nordbank1.example"),  # same e-mail as the stored lead
        _lead(3),
        _lead(4, company_domain="nordbank3.example"),  # same company and product as item 1
        _lead(5, contact_email="eva@nordbank3.example"),  # same e-mail as item 1
        _lead(6, company_domain="nordbank3.example", product="DR"),  # another product
        _lead(7, company_domain="nordbank1.example"),  # same company and product as stored
    ]
    ids = [r.lead_id for r in _batch(app, world.a.id, items)]
    flags = {lead.id: lead.duplicate_of_id for lead in _leads(app, world.a.id)}
    assert [flags[i] for i in ids] == [stored, None, ids[1], ids[1], None, stored]
    # A lead's one event at intake carries its score and, if flagged, what it repeats.
    taken_in = _outcome(app, world.a.id, ids[2])[4][0]
    assert taken_in[:3] == ("score_above", None, "mql")
    assert taken_in[4].startswith("Taken in by the API. 35 points")
    assert taken_in[5] == {"score": 35, "missing": [], "duplicate_of": ids[1]}
    assert _outcome(app, world.a.id, ids[1])[4][0][5] == {"score": 35, "missing": []}


def test_a_batch_larger_than_one_lookup_part_finds_across_its_parts(app, world):
    """Keys are looked up a part of the batch at a time; what each part finds is one answer."""
    _programme(app, world.a.id)
    with app.app_context(), tenant_scope(world.a.id):
        stored = intake.take_in(_lead(0, external_id="crm-0"), actor="api", channel="the API")
    size = 2 * bulk_intake._PART + 10
    items = [_lead(n, external_id=f"crm-{n}") for n in range(1, size)]
    items[-1] = _lead(size, external_id="crm-0")  # known, in the last part
    items[-2] = _lead(size + 1, contact_email="eva@nordbank0.example")  # the stored lead's
    items[-3] = _lead(size + 2, external_id="crm-1")  # the first item of the first part
    items[-4] = _lead(size + 3, company_domain="nordbank2.example")  # the second item's
    results = _batch(app, world.a.id, items)
    assert [r.status for r in results[:-4]] == ["created"] * (size - 5)
    assert [(r.status, r.lead_id) for r in results[-3:]] == [
        ("existing", results[0].lead_id),
        ("created", results[-2].lead_id),
        ("existing", stored.lead.id),
    ]
    flags = {lead.id: lead.duplicate_of_id for lead in _leads(app, world.a.id)}
    assert flags[results[-2].lead_id] == stored.lead.id
    assert flags[results[-4].lead_id] == results[1].lead_id
    assert len(flags) == size - 2


def test_the_same_company_and_product_long_ago_is_not_a_duplicate(app, world):
    _programme(app, world.a.id)
    with app.app_context(), tenant_scope(world.a.id):
        old = intake.take_in(_lead(1), actor="api", channel="the API").lead
        old.created_at = utcnow() - intake.DUPLICATE_WINDOW - timedelta(days=1)
        db.session.commit()
    [result] = _batch(app, world.a.id, [_lead(2, company_domain="nordbank1.example")])
    assert _leads(app, world.a.id)[-1].duplicate_of_id is None and result.status == "created"


def test_nothing_of_another_tenant_is_seen(app, world):
    _programme(app, world.a.id)
    _programme(app, world.b.id)
    with app.app_context(), tenant_scope(world.b.id):
        intake.take_in(_lead(1, external_id="crm-1"), actor="api", channel="the API")
    [result] = _batch(app, world.a.id, [_lead(1, external_id="crm-1")])
    assert result.status == "created"
    [lead] = _leads(app, world.a.id)
    assert lead.id == result.lead_id and lead.duplicate_of_id is None
    assert lead.tenant_id == world.a.id and len(_leads(app, world.b.id)) == 1


def test_an_empty_batch_answers_with_nothing(app, world):
    assert _batch(app, world.a.id, []) == []
    assert _leads(app, world.a.id) == []


def test_two_racing_batches_take_each_external_id_in_exactly_once(tmp_path):
    """On PostgreSQL the batches really race; SQLite allows one writer, so they run in turn."""
    with fresh_database(tmp_path) as url:
        app = make_app(url)
        try:
            _race(app)
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


def _race(app):
    with app.app_context():
        tenant_id = build_tenant("race").id
    _programme(app, tenant_id)
    batches = [
        [_lead(n, external_id=f"crm-{n}") for n in range(0, 60)],
        [_lead(n, external_id=f"crm-{n}") for n in range(30, 90)],
    ]
    results: list[list[ItemResult]] = [[], []]
    start = threading.Barrier(2 if BACKEND == "postgresql" else 1)

    def run(k: int) -> None:
        start.wait()
        results[k] = _batch(app, tenant_id, batches[k])

    if BACKEND == "postgresql":
        threads = [threading.Thread(target=run, args=(k,)) for k in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    else:
        run(0)
        run(1)
    by_external_id = {lead.external_id: lead.id for lead in _leads(app, tenant_id)}
    assert len(by_external_id) == 90 == len(_leads(app, tenant_id))
    for batch, answers in zip(batches, results, strict=True):
        assert [r.lead_id for r in answers] == [by_external_id[i["external_id"]] for i in batch]
    statuses = sorted(r.status for answers in results for r in answers)
    assert statuses == ["created"] * 90 + ["existing"] * 30
