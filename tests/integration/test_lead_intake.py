"""Taking a lead in by hand: scoring, MQL or nurture, duplicates, and the lead page."""

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.leads import intake
from portal.leads.models import Lead, LeadEvent, QualificationSettings, ScoringRule
from portal.tenancy.scoping import tenant_scope
from tests.conftest import csrf_token, post_form
from tests.factories import ProductFactory

BANT = {"budget": "yes", "authority": "yes", "need": "Backups for 40 sites", "timeline": "Q1"}


def _programme(app, world, threshold=30):
    with app.app_context(), tenant_scope(world.a.id):
        ProductFactory(code="CB", name="Cloud Backup")
        db.session.add(ScoringRule(field="industry", operator="in", values=["Banking"], points=20))
        db.session.add(
            ScoringRule(field="employees", operator="between", values=[200, None], points=15)
        )
        db.session.scalar(sa.select(QualificationSettings)).mql_threshold = threshold
        db.session.commit()


def _lead(**overrides):
    data = {
        "company_name": "Nordbank AG", "company_domain": "nordbank.example", "industry": "Banking",
        "employees": "1,200", "contact_name": "Eva Storm", "contact_email": "eva@nordbank.example",
        "job_title": "CIO", "country": "de", "subdivision": "DE-HH", "postal_code": "20095",
        "city": "Hamburg", "product": "CB", "deal_size": "48,000.50", "currency": "EUR", **BANT,
    }  # fmt: skip
    data.update(overrides)
    return data


def _only_lead(app, world):
    with app.app_context(), tenant_scope(world.a.id):
        lead = db.session.scalar(sa.select(Lead).order_by(Lead.id.desc()))
        events = [
            (e.action, e.from_state, e.to_state)
            for e in db.session.scalars(
                sa.select(LeadEvent).where(LeadEvent.lead_id == lead.id).order_by(LeadEvent.id)
            )
        ]
        return lead, events


def test_a_lead_above_the_threshold_with_bant_becomes_an_mql_and_its_page_says_why(
    app, client, login_as, world
):
    _programme(app, world)
    login_as("channel_manager")
    response = post_form(client, "/leads/new", _lead())
    assert response.status_code == 302
    lead, events = _only_lead(app, world)
    # No partner of this programme sells the product, so routing sends the MQL on to the
    # unroutable queue straight away.
    assert (lead.state, lead.score) == ("unroutable", 35)
    assert (lead.deal_size_minor, lead.currency, lead.country) == (4800050, "EUR", "DE")
    assert events == [
        ("score_above", None, "mql"),
        ("no_partner", "mql", "unroutable"),
    ]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "the industry is Banking" in page and "+20" in page and "€48,000.50" in page
    assert "marketing qualified lead" in page
    assert 'data-testid="score-breakdown"' in page
    assert '<dt class="col-5">Need</dt>' in page and "Backups for 40 sites" in page


def test_a_lead_below_the_threshold_goes_to_nurture(app, client, login_as, world):
    _programme(app, world, threshold=60)
    login_as("channel_manager")
    post_form(client, "/leads/new", _lead())
    lead, events = _only_lead(app, world)
    assert lead.state == "nurture" and events == [("score_below", None, "nurture")]
    with app.app_context(), tenant_scope(world.a.id):
        event = db.session.scalar(sa.select(LeadEvent))
    # Created scored, in one event: where it came from, then the score's verdict.
    assert event.reason.startswith("Taken in by the form. 35 points")
    assert event.data == {"score": 35, "missing": []}


def test_a_lead_missing_a_required_answer_goes_to_nurture_and_says_which(
    app, client, login_as, world
):
    _programme(app, world)
    login_as("channel_manager")
    post_form(client, "/leads/new", _lead(timeline=""))
    lead, _ = _only_lead(app, world)
    assert lead.state == "nurture"
    with app.app_context(), tenant_scope(world.a.id):
        reason = db.session.scalar(
            sa.select(LeadEvent.reason).where(LeadEvent.action == "score_below")
        )
    assert "timeline" in reason


def test_bad_lead_input_is_shown_at_each_field_and_nothing_is_saved(app, client, login_as, world):
    _programme(app, world)
    login_as("channel_manager")
    data = _lead(
        contact_email="not-mail",
        country="XX",
        deal_size="-5",
        product="NOPE",
        employees="many",
        company_domain="no domain",
    )
    response = post_form(client, "/leads/new", data)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    for field in (
        "contact_email",
        "country",
        "deal_size",
        "product",
        "employees",
        "company_domain",
    ):
        assert f'id="{field}-error"' in page, field
    with app.app_context(), tenant_scope(world.a.id):
        assert db.session.scalar(sa.select(sa.func.count(Lead.id))) == 0


def test_a_lead_with_a_known_external_id_is_taken_in_once(app, world):
    _programme(app, world)
    with app.app_context(), tenant_scope(world.a.id):
        first = intake.take_in({**_lead(), "external_id": "crm-1"}, actor="api", channel="the API")
        again = intake.take_in({**_lead(), "external_id": "crm-1"}, actor="api", channel="the API")
        count = db.session.scalar(sa.select(sa.func.count(Lead.id)))
    assert first.created and not again.created and again.lead.id == first.lead.id and count == 1


def test_a_likely_duplicate_is_taken_in_and_flagged_not_dropped(app, client, login_as, world):
    _programme(app, world)
    login_as("channel_manager")
    post_form(client, "/leads/new", _lead())
    first, _ = _only_lead(app, world)
    response = post_form(client, "/leads/new", _lead(company_name="Nordbank Hamburg"))
    second, _ = _only_lead(app, world)
    assert second.id != first.id and second.duplicate_of_id == first.id
    assert 'data-testid="duplicate-flag"' in client.get(response.headers["Location"]).get_data(
        as_text=True
    )


def test_vendor_staff_read_leads_but_cannot_enter_one_and_partners_see_none(
    app, client, login_as, world
):
    _programme(app, world)
    with app.app_context(), tenant_scope(world.a.id):
        lead_id = intake.take_in(_lead(), actor="test", channel="a test").lead.id
    login_as("vendor_staff")
    assert client.get(f"/leads/{lead_id}").status_code == 200
    assert client.get("/leads/new").status_code == 403
    token = csrf_token(client, "/leads/")
    assert client.post("/leads/new", data={"csrf_token": token}).status_code == 403
    partner = app.test_client()
    from tests.conftest import login

    login(partner, world.a.partner_user.email)
    assert partner.get(f"/leads/{lead_id}").status_code == 403


def test_another_tenants_lead_is_not_found(app, client, login_as, world):
    _programme(app, world)
    with app.app_context(), tenant_scope(world.a.id):
        lead_id = intake.take_in(_lead(), actor="test", channel="a test").lead.id
    login_as("channel_manager", "b")
    assert client.get(f"/leads/{lead_id}").status_code == 404


def test_an_event_cannot_belong_to_another_tenant_than_its_lead(app, client, login_as, world):
    _programme(app, world)
    login_as("channel_manager")
    post_form(client, "/leads/new", _lead())
    lead, _ = _only_lead(app, world)
    with app.app_context(), tenant_scope(world.b.id):
        stray = sa.insert(LeadEvent.__table__).values(
            tenant_id=world.b.id, lead_id=lead.id, action="score_above", to_state="mql"
        )
        with pytest.raises(sa.exc.IntegrityError):
            db.session.execute(stray)
        db.session.rollback()
