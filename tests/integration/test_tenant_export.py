"""The admin's export of the tenant's whole data: one ZIP of JSON Lines files and a manifest,
made from real data, with nothing of another tenant in it, for admins only, and audited."""

from __future__ import annotations

import io
import json
import re
import threading
import zipfile
from datetime import datetime

import pytest
import sqlalchemy as sa

from portal.audit import AuditEvent
from portal.db import utcnow
from portal.extensions import db
from portal.incentives import statements
from portal.leads import intake
from portal.leads.models import Lead, LeadEvent, Offer
from portal.scorecards.periods import month_of, trail
from portal.tenancy import export
from portal.tenancy.scoping import tenant_scope
from portal.tenancy.seeding import seed_defaults
from tests.conftest import BACKEND, build_tenant, csrf_token, login, post_form
from tests.factories import PartnerFactory, TenantFactory
from tests.integration.test_incentive_statements import set_plan, this_month
from tests.integration.test_offers import routed, run  # noqa: F401  (a fixture)
from tests.integration.test_scorecards import worked  # noqa: F401  (a fixture)

FILES = [*export.FILES, "manifest.json"]
B_MARKER = "Zebra Marker"


def download(client):
    """Post the export form as a browser does; the response."""
    return post_form(client, "/admin/export/download", {}, page="/admin/export")


def unzip(response) -> zipfile.ZipFile:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return zipfile.ZipFile(io.BytesIO(response.data))


def lines(archive: zipfile.ZipFile, name: str) -> list[dict]:
    return [json.loads(line) for line in archive.read(name).decode().splitlines()]


def manifest_of(archive: zipfile.ZipFile) -> dict:
    return json.loads(archive.read("manifest.json"))


def _mark_tenant_b(app, world):
    """Tenant B has a lead, a partner and an audit row that name a marker; none may leak."""
    with app.app_context(), tenant_scope(world.b.id):
        PartnerFactory(name=f"{B_MARKER} Partners")
        intake.take_in(
            {"company_name": f"{B_MARKER} Holdings", "contact_email": "zed@zebra.example",
             "country": "DE"},
            actor=f"{B_MARKER} importer", channel="a test",
        )  # fmt: skip
        db.session.commit()


@pytest.fixture
def full(app, world, worked):  # noqa: F811
    """Tenant A with routed, answered and won leads, a plan and this month's statements;
    tenant B with marked rows of its own."""
    ids, users = worked
    set_plan(app, world.a.id, Gold="2")
    with app.app_context(), tenant_scope(world.a.id):
        statements.work_out(this_month())
    _mark_tenant_b(app, world)
    return ids, users


# The file ---------------------------------------------------------------------------------------


def test_the_admin_gets_one_zip_of_a_file_per_kind_and_a_manifest(app, client, login_as, full):
    login_as("admin")
    response = download(client)
    archive = unzip(response)
    manifest = manifest_of(archive)
    assert response.mimetype == "application/zip"
    assert response.headers["Cache-Control"] == "no-store"
    assert archive.namelist() == FILES
    exported_at = datetime.fromisoformat(manifest["exported_at"])
    assert manifest["exported_at"].endswith("Z") and exported_at.utcoffset().total_seconds() == 0
    name = f"tenant-a-export-{exported_at:%Y%m%d}.zip"
    assert response.headers["Content-Disposition"] == f"attachment; filename={name}"
    assert manifest["format_version"] == export.FORMAT_VERSION == 1
    assert manifest["tenant"] == "tenant-a"
    assert manifest["files"] == {name: len(lines(archive, name)) for name in export.FILES}
    assert int(response.headers["Content-Length"]) == len(response.data)


def test_each_file_holds_the_tenant_s_rows_as_the_services_made_them(
    app, client, login_as, world, full
):
    ids, _ = full
    login_as("admin")
    archive = unzip(download(client))
    partners = {p["name"]: p for p in lines(archive, "partners.jsonl")}
    assert {"Berlin Nord", "Germany Direct", "Europa Partners"} <= set(partners)
    assert partners["Germany Direct"]["tier"] == "Gold"

    users = lines(archive, "users.jsonl")
    assert "admin@tenant-a.example" in {u["email"] for u in users}
    assert all("password_hash" not in u for u in users)
    assert b"$argon2" not in b"".join(archive.read(n) for n in archive.namelist())

    leads = {lead["id"]: lead for lead in lines(archive, "leads.jsonl")}
    won = next(lead for lead in leads.values() if lead["state"] == "won")
    assert (won["won_minor"], won["won_currency"], won["product"]) == (120050, "EUR", "CB")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+Z", won["created_at"])

    events = lines(archive, "lead_events.jsonl")
    actions = [e["action"] for e in events if e["lead_id"] == won["id"]]
    assert actions[-3:] == ["accept", "qualify", "win"]
    offers = lines(archive, "offers.jsonl")
    won_offers = [o for o in offers if o["lead_id"] == won["id"]]
    answers = {(o["partner_id"], o["state"], o["reason_code"]) for o in won_offers}
    assert answers == {(ids["berlin"], "rejected", "no_budget"), (ids["germany"], "accepted", None)}
    with app.app_context(), tenant_scope(world.a.id):
        counts = [
            db.session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (Lead, LeadEvent, Offer)
        ]
    assert [len(leads), len(events), len(offers)] == counts

    cards = lines(archive, "scorecards.jsonl")
    months = [p.key for p in trail(month_of(utcnow().date()), export.SCORECARD_MONTHS)]
    assert sorted({c["period"] for c in cards}) == months
    assert len(cards) == len(months) * len(partners)
    germany = next(
        c for c in cards if c["partner_id"] == ids["germany"] and c["period"] == months[-1]
    )
    assert (germany["offered"], germany["accepted"]) == (1, 1)
    assert germany["won_revenue"] == {"EUR": 120050}
    assert isinstance(germany["quality"], int) and germany["sal_to_won"] == 1.0

    statements_ = {s["partner_id"]: s for s in lines(archive, "statements.jsonl")}
    germany_statement = statements_[ids["germany"]]
    assert (germany_statement["status"], germany_statement["total_minor"]) == ("draft", 12_401)
    assert [(x["kind"], x["amount_minor"], x["currency"]) for x in germany_statement["lines"]] == [
        ("bounty", 10_000, "EUR"),
        ("share", 2_401, "EUR"),
    ]
    [plan] = lines(archive, "incentive_plans.jsonl")
    assert (plan["version"], plan["currency"], plan["bounty_minor"]) == (1, "EUR", 10_000)
    assert "incentive_plan.saved" in {a["action"] for a in lines(archive, "audit_events.jsonl")}


def test_nothing_of_another_tenant_is_in_the_export(app, client, login_as, world, full):
    login_as("admin")
    archive = unzip(download(client))
    every_byte = b"".join(archive.read(name) for name in archive.namelist())
    assert B_MARKER.encode() not in every_byte
    assert b"tenant-b" not in every_byte
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login(client, world.b.admin.email)
    theirs = unzip(download(client))
    every_byte = b"".join(theirs.read(name) for name in theirs.namelist())
    assert B_MARKER.encode() in every_byte
    assert b"tenant-a" not in every_byte and b"Germany Direct" not in every_byte


def test_the_tables_are_read_in_batches_in_id_order(app, client, login_as, full, monkeypatch):
    monkeypatch.setattr(export, "BATCH", 2)
    login_as("admin")
    archive = unzip(download(client))
    for name in ("partners.jsonl", "leads.jsonl", "lead_events.jsonl", "offers.jsonl"):
        ids = [row["id"] for row in lines(archive, name)]
        assert len(ids) > 2 and ids == sorted(set(ids)), name
    assert manifest_of(archive)["files"]["lead_events.jsonl"] == len(
        lines(archive, "lead_events.jsonl")
    )


def test_an_empty_tenant_gives_empty_files_and_counts_of_zero(app):
    with app.app_context():
        tenant = TenantFactory(slug="empty")
        with tenant_scope(tenant.id):
            seed_defaults()
            done = export.export_tenant(actor="test")
            archive = zipfile.ZipFile(done.file)
            assert archive.namelist() == FILES
            assert all(archive.read(name) == b"" for name in export.FILES)
            assert manifest_of(archive)["files"] == dict.fromkeys(export.FILES, 0)
            assert done.counts == dict.fromkeys(export.FILES, 0)
            assert done.filename.startswith("empty-export-")


# Who may, and the record of it -------------------------------------------------------------------


def test_every_export_is_recorded_with_who_took_it_and_the_counts(app, client, login_as, world):
    admin = login_as("admin")
    archive = unzip(download(client))
    with app.app_context(), tenant_scope(world.a.id):
        event = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "tenant.exported")
        ).one()
    assert (event.actor_id, event.actor_label) == (admin.id, admin.email)
    assert (event.object_type, event.object_id) == ("tenant", str(world.a.id))
    assert event.changes == {"files": manifest_of(archive)["files"], "format_version": 1}
    assert event.at.isoformat().replace("+00:00", "Z") == manifest_of(archive)["exported_at"]
    # The next export holds the record of the first.
    again = lines(unzip(download(client)), "audit_events.jsonl")
    assert [e["action"] for e in again].count("tenant.exported") == 1


@pytest.mark.parametrize("role", ["partner_user", "channel_manager", "vendor_staff"])
def test_no_other_role_opens_the_page_or_downloads(app, client, login_as, world, role):
    login_as(role)
    assert client.get("/admin/export").status_code == 403
    response = client.post("/admin/export/download", data={"csrf_token": csrf_token(client, "/")})
    assert response.status_code == 403
    assert 'href="/admin/export"' not in client.get("/").get_data(as_text=True)
    with app.app_context(), tenant_scope(world.a.id):
        actions = db.session.scalars(sa.select(AuditEvent.action)).all()
    assert "tenant.exported" not in actions


def test_the_page_explains_the_export_and_downloads_only_by_a_checked_post(client, login_as, world):
    login_as("admin")
    page = client.get("/admin/export").get_data(as_text=True)
    assert all(name in page for name in export.FILES) and "manifest.json" in page
    assert 'href="/admin/export"' in client.get("/").get_data(as_text=True)
    assert re.search(r'<form method="post" action="/admin/export/download">\s*<input', page)
    assert client.get("/admin/export/download").status_code == 405
    assert client.post("/admin/export/download").status_code == 400  # no CSRF token


def test_the_files_show_one_moment_while_leads_keep_arriving(race_app, monkeypatch):
    """A lead taken in (and committed) while the export is between its leads file and its
    events file is in neither: every event exported is of a lead exported."""
    app = race_app
    with app.app_context():
        tenant_id = build_tenant("moment").id

    def take_in(name: str) -> None:
        with app.app_context(), tenant_scope(tenant_id):
            intake.take_in({"company_name": name, "contact_email": f"buyer@{name}.example",
                            "country": "DE"}, actor="a test", channel="a test")  # fmt: skip
            db.session.commit()
            db.session.remove()

    take_in("before")
    arrivals: list[threading.Thread] = []
    write_lines = export._write_lines

    def write_then_a_lead_arrives(archive, entry, rows):
        count = write_lines(archive, entry, rows)
        if entry.filename == "leads.jsonl":
            arrival = threading.Thread(target=take_in, args=("meanwhile",))
            arrival.start()
            arrivals.append(arrival)
            if BACKEND == "postgresql":
                arrival.join()  # committed while the export reads on
            # On SQLite the export's transaction holds the write lock: the lead waits for it.
        return count

    monkeypatch.setattr(export, "_write_lines", write_then_a_lead_arrives)
    with app.app_context(), tenant_scope(tenant_id):
        done = export.export_tenant(actor="a test")
        db.session.remove()
    for arrival in arrivals:
        arrival.join()

    archive = zipfile.ZipFile(done.file)
    leads = {row["id"]: row["company_name"] for row in lines(archive, "leads.jsonl")}
    assert list(leads.values()) == ["before"]
    assert {event["lead_id"] for event in lines(archive, "lead_events.jsonl")} == set(leads)
    with app.app_context(), tenant_scope(tenant_id):
        names = db.session.scalars(sa.select(Lead.company_name).order_by(Lead.id)).all()
    assert names == ["before", "meanwhile"]
