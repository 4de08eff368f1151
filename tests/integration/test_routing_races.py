"""Routing under concurrency and across processes.

Several workers routing one tenant's leads at once never offer a lead twice or a partner
beyond its capacity (on PostgreSQL they really race, in threads with real commits; SQLite
allows one writer, so there they run in turn). An index built in one process notices a
configuration change committed by another process.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections import Counter

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.leads.models import Lead, Offer
from portal.partners.models import Partner
from portal.routing import dispatch
from portal.tenancy.scoping import tenant_scope
from portal.tenancy.services import note_config_change
from tests.conftest import BACKEND, app_on, build_tenant, fresh_database
from tests.factories import LeadFactory
from tests.integration.test_live_routing import programme


@pytest.fixture
def race_app(tmp_path):
    with fresh_database(tmp_path) as url, app_on(url) as app:
        yield app, url


def _waiting_leads(app, tenant_id: int, count: int) -> list[int]:
    with app.app_context(), tenant_scope(tenant_id):
        from portal.partners.models import Product

        product_id = db.session.scalar(sa.select(Product.id).where(Product.code == "CB"))
        leads = [
            LeadFactory(product_id=product_id, country="DE", postal_code=f"1{n:04d}")
            for n in range(count)
        ]
        db.session.commit()
        return [lead.id for lead in leads]


def test_workers_routing_at_once_never_exceed_capacity_or_offer_a_lead_twice(race_app):
    app, _ = race_app
    with app.app_context():
        tenant = build_tenant("race")
    ids = programme(app, tenant.id)
    with app.app_context(), tenant_scope(tenant.id):
        for partner_id in ids.values():
            db.session.get(Partner, partner_id).capacity = 3
        note_config_change()
        db.session.commit()
    lead_ids = _waiting_leads(app, tenant.id, 24)
    workers = 6 if BACKEND == "postgresql" else 1
    start = threading.Barrier(workers)
    errors: list[BaseException] = []

    def work() -> None:
        with app.app_context(), tenant_scope(tenant.id):
            start.wait()
            try:
                dispatch.route_leads(limit=8)
                dispatch.route_waiting()
            except BaseException as exc:  # the assertion below shows it
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    with app.app_context(), tenant_scope(tenant.id):
        offers = list(db.session.execute(sa.select(Offer.lead_id, Offer.partner_id)))
        states = Counter(
            db.session.scalars(sa.select(Lead.state).where(Lead.id.in_(lead_ids))).all()
        )
    per_partner = Counter(partner for _, partner in offers)
    per_lead = Counter(lead for lead, _ in offers)
    assert max(per_partner.values()) <= 3 and len(per_partner) == 3
    assert set(per_lead.values()) == {1}
    assert states == {"offered": 9, "unroutable": 15}


CHANGE_IN_ANOTHER_PROCESS = textwrap.dedent(
    """
    import sys
    from portal.extensions import db
    from portal.partners.models import Partner
    from portal.tenancy.scoping import tenant_scope
    from portal.tenancy.services import note_config_change
    from tests.databases import make_app

    url, tenant_id, partner_id = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    app = make_app(url)
    with app.app_context(), tenant_scope(tenant_id):
        db.session.get(Partner, partner_id).status = "paused"
        note_config_change()
        db.session.commit()
    """
)


def test_an_index_built_in_one_process_notices_a_change_made_in_another(race_app):
    app, url = race_app
    with app.app_context():
        tenant = build_tenant("procs")
    ids = programme(app, tenant.id)
    first, second = _waiting_leads(app, tenant.id, 2)
    with app.app_context(), tenant_scope(tenant.id):
        [routed] = dispatch.route_leads([first])
        assert routed.partner_id == ids["berlin"]
        built = dispatch.current_index()
    subprocess.run(
        [sys.executable, "-c", CHANGE_IN_ANOTHER_PROCESS, url, str(tenant.id), str(ids["berlin"])],
        check=True,
        timeout=120,
    )
    with app.app_context(), tenant_scope(tenant.id):
        [routed] = dispatch.route_leads([second])
        rebuilt = dispatch.current_index()
    assert rebuilt is not built and rebuilt.version == built.version + 1
    assert routed.partner_id == ids["germany"]
