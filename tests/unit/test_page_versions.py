"""Which kept pages a statement changes, read from the statement alone."""

from __future__ import annotations

import pytest

from portal.page_versions import EVERY_TENANT, for_partners, scopes_of
from portal.tenancy.scoping import tenant_scope, unscoped

TENANT = "pv:t:7"


@pytest.mark.parametrize(
    ("statement", "parameters", "expected"),
    [
        ("SELECT offer.id FROM offer WHERE offer.partner_id = ?", [], set()),
        ("SAVEPOINT sa_savepoint_1", [], set()),
        ("WITH open AS (SELECT id FROM offer) SELECT count(*) FROM open", [], set()),
        ("SELECT id FROM offer WHERE id = ? FOR UPDATE", [], set()),
        ("ANALYZE lead (tenant_id)", [], set()),
        ("INSERT INTO lead_event (lead_id, action) VALUES (?, ?)", [], set()),
        ("INSERT INTO lead (company_name) VALUES (?)", [], set()),
        ("UPDATE lead SET state=?, updated_at=? WHERE lead.id = ?", [], set()),
        ("UPDATE lead SET company_name=?, updated_at=? WHERE lead.id = ?", [], {TENANT}),
        ("UPDATE offer SET remind_at=?, reminders_sent=? WHERE offer.id = ?", [], set()),
        ("UPDATE offer SET state=?, decided_at=? WHERE offer.id = ?", [], {TENANT}),
        ("UPDATE partner SET quality=?, quality_at=? WHERE partner.id = ?", [], set()),
        ("UPDATE partner SET name=? WHERE partner.id = ?", [], {TENANT}),
        ('UPDATE "user_account" SET last_login_at=? WHERE id = ?', [], set()),
        ("UPDATE tenant SET config_version=(tenant.config_version + ?) WHERE id = ?", [], set()),
        # A subquery's own FROM and WHERE do not end the SET clause.
        (
            "UPDATE partner SET quality=(SELECT avg(q) FROM x WHERE x.id = ?), name=? WHERE id = ?",
            [],
            {TENANT},
        ),
        ('UPDATE partner SET "quality"=?, "name"=? WHERE id = ?', [], {TENANT}),
        ("UPDATE partner SET quality = 'a, b' WHERE id = ?", [], {TENANT}),
        ("UPDATE partner\nSET quality=?\nWHERE id = ?", [], set()),
        ("INSERT INTO auth_session (token_hash) VALUES (?)", [], set()),
        ("UPDATE auth_session SET ended_at=? WHERE id = ?", [], {TENANT}),
        (
            "INSERT INTO offer (lead_id, partner_id) VALUES (?, ?)",
            [{"lead_id": 1, "partner_id": 3}, {"lead_id": 2, "partner_id": 4}],
            {"pv:p:3", "pv:p:4"},
        ),
        (
            "INSERT INTO notification (user_id, text) VALUES (?, ?), (?, ?)",
            [{"user_id_m0": 5, "text_m0": "a", "user_id_m1": 6, "text_m1": "b"}],
            {"pv:u:5", "pv:u:6"},
        ),
        # Whose rows cannot be told: every page of the tenant.
        ("INSERT INTO offer (lead_id) SELECT id FROM copy_offer_1", [], {TENANT}),
        ("UPDATE notification SET read_at=? WHERE id = ?", [], {TENANT}),
        ("UPDATE product SET name = 'CB 2'", [], {TENANT}),
        ("WITH gone AS (DELETE FROM offer RETURNING id) SELECT 1", [], {TENANT}),
        ("CREATE INDEX ix ON lead (score)", [], {TENANT}),
        ("CREATE TEMPORARY TABLE copy_offer_3 ON COMMIT DROP AS SELECT 1", [], set()),
    ],
)
def test_a_statement_changes_the_pages_of_what_it_writes(statement, parameters, expected):
    with tenant_scope(7):
        assert scopes_of(statement, parameters, None) == expected


def test_an_update_of_offers_named_by_partner_changes_those_partners_pages():
    named = for_partners([3, 3, 4])["kept_pages"]
    statement = "UPDATE offer SET state=?, decided_at=? WHERE offer.id = ? AND offer.state = ?"
    with tenant_scope(7):
        assert scopes_of(statement, [], named) == {"pv:p:3", "pv:p:4"}


def test_a_write_outside_any_tenant_changes_every_tenants_pages():
    statement = "UPDATE auth_session SET ended_at=? WHERE token_hash = ?"
    with unscoped():
        assert scopes_of(statement, [], None) == {EVERY_TENANT}
    assert scopes_of("INSERT INTO tenant (slug) VALUES (?)", [], None) == {EVERY_TENANT}
