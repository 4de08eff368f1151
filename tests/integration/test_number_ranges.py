"""A number the database cannot hold or a NUL character, in a query string or a form, is the
request's fault: a clear 400, never a 500, and nothing written."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.partners.models import PartnerTerritory
from portal.tenancy.scoping import tenant_scope
from tests.conftest import post_form

HUGE = str(2**64)


@pytest.mark.parametrize(
    "path",
    [
        f"/partners/?tier={HUGE}",
        f"/scorecards/?tier={HUGE}",
        f"/scorecards/?product={HUGE}",
        f"/leads/?page={HUGE}",
    ],
)
def test_a_number_too_large_in_a_query_string_is_a_bad_request(client, login_as, path):
    login_as("channel_manager")
    answer = client.get(path)
    assert answer.status_code == 400, answer.status_code
    assert "out of range" in answer.get_data(as_text=True)


def test_a_number_too_large_in_a_form_is_refused_and_nothing_is_written(
    app, world, client, login_as
):
    login_as("channel_manager")
    page = f"/partners/{world.a.partner_id}"
    answer = post_form(
        client, f"/partners/{world.a.partner_id}/territories", {"territory_id": HUGE}, page
    )
    assert answer.status_code == 400, answer.status_code
    with app.app_context(), tenant_scope(world.a.id):
        count = db.session.scalar(sa.select(sa.func.count()).select_from(PartnerTerritory))
    assert count == 0


def test_a_number_too_large_for_the_inbox_bulk_answer_is_refused(client, login_as):
    login_as("partner_user")
    answer = post_form(
        client, "/inbox/answer", {"offer_ids": HUGE, "decision": "accept"}, "/inbox/"
    )
    assert answer.status_code == 400, answer.status_code


def test_a_nul_character_in_a_form_or_a_query_string_is_a_bad_request(app, world, client, login_as):
    login_as("channel_manager")
    assert client.get("/partners/?country=D%00E").status_code == 400
    answer = post_form(
        client, "/partners/new", {"name": "Nul\x00 GmbH", "country": "DE"}, "/partners/new"
    )
    assert answer.status_code == 400
    assert "NUL character" in answer.get_data(as_text=True)
