"""A tenant's rejection reasons kept in the process between requests
(portal/web/kept_values.py): read once while the tenant's version holds, read again after a
change to them or after KEPT_PAGE_SECONDS, and never given to another tenant."""

from __future__ import annotations

import sqlalchemy as sa
from flask import g

from portal.extensions import db
from portal.leads.models import RejectionReason
from portal.tenancy.scoping import tenant_scope
from portal.web import kept_values
from tests.integration.test_inbox import offered, statements_of  # noqa: F401  (offered: a fixture)
from tests.integration.test_kept_logins import berlin, in_tenant  # noqa: F401  (berlin: a fixture)


def reason_reads(client, path):
    response, statements = statements_of(client, path)
    return response, [s for s in statements if "FROM rejection_reason" in s]


def offer_page(client, offered):  # noqa: F811
    _, _, (first, _), offer_ids = offered
    path = f"/inbox/offers/{offer_ids[first]}"
    # The first request makes the tenant's versions, the next keeps the reasons under them.
    for _ in range(2):
        assert client.get(path).status_code == 200
    return path


def relabel(code, label):
    reason = db.session.scalar(sa.select(RejectionReason).where(RejectionReason.code == code))
    reason.label = label


def test_the_reasons_are_read_once_while_the_tenant_is_unchanged(client, berlin, offered):  # noqa: F811
    path = offer_page(client, offered)
    page, reads = reason_reads(client, path)
    assert page.status_code == 200 and reads == []
    assert "No capacity right now" in page.text


def test_a_change_to_the_reasons_is_on_the_next_page(app, world, client, berlin, offered):  # noqa: F811
    path = offer_page(client, offered)
    in_tenant(app, world, lambda: relabel("no_capacity", "Fully booked"))
    page, reads = reason_reads(client, path)
    assert reads and "Fully booked" in page.text and "No capacity right now" not in page.text
    assert reason_reads(client, path)[1] == []


def test_another_tenants_change_leaves_them_kept(app, world, client, berlin, offered):  # noqa: F811
    path = offer_page(client, offered)
    with app.app_context(), tenant_scope(world.b.id):
        relabel("no_capacity", "Tenant B's own words")
        db.session.commit()
    page, reads = reason_reads(client, path)
    assert reads == [] and "Tenant B's own words" not in page.text


def test_they_are_kept_no_longer_than_a_page(app, client, berlin, offered, monkeypatch):  # noqa: F811
    path = offer_page(client, offered)
    later = kept_values.monotonic() + app.config["KEPT_PAGE_SECONDS"] + 1
    monkeypatch.setattr(kept_values, "monotonic", lambda: later)
    assert reason_reads(client, path)[1]


def test_nothing_is_kept_when_keeping_is_off(app, client, berlin, offered, monkeypatch):  # noqa: F811
    path = offer_page(client, offered)
    monkeypatch.setitem(app.config, "KEPT_PAGE_SECONDS", 0)
    assert reason_reads(client, path)[1]
    assert reason_reads(client, path)[1]


def test_one_tenants_answer_is_never_given_to_another(app, world):
    def answer(tenant_id, noted_for, value):
        with app.test_request_context(), tenant_scope(tenant_id):
            g.kept_tenant_versions = (noted_for, ("every", "same"))
            return kept_values.per_tenant("probe", lambda: value)

    assert answer(world.a.id, world.a.id, "A") == "A"
    assert answer(world.a.id, world.a.id, "A again") == "A"
    # The same versions, another tenant: its own answer.
    assert answer(world.b.id, world.b.id, "B") == "B"
    # Versions noted for another tenant than the one in scope: never kept, never given.
    assert answer(world.b.id, world.a.id, "B, read") == "B, read"
