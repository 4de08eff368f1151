"""Partner CSV files through the pages: export, dry run, all-or-nothing import."""

import io
import re

import sqlalchemy as sa

from portal.extensions import db
from portal.partners.csv_plan import COLUMNS
from portal.partners.models import Partner, PartnerImport, Territory
from portal.tenancy.models import Tenant
from portal.tenancy.scoping import tenant_scope
from tests.conftest import csrf_token
from tests.factories import PartnerFactory, ProductFactory, TierFactory

HEADER = ",".join(COLUMNS)


def _catalogue(app, world):
    with app.app_context(), tenant_scope(world.a.id):
        TierFactory(name="Gold")
        db.session.add(Territory(code="DE", name="Germany", kind="country", country="DE"))
        ProductFactory(code="CB", name="Cloud Backup")
        db.session.commit()


def _line(name, capacity="10"):
    return f"{name},Gold,,{capacity},DE,Europe/Berlin,,,,,DE,CB:1"


def _upload(client, content, filename="partners.csv"):
    data = {
        "csrf_token": csrf_token(client, "/partners/import"),
        "file": (io.BytesIO(content if isinstance(content, bytes) else content.encode()), filename),
    }
    return client.post("/partners/import", data=data, content_type="multipart/form-data")


def _apply(client, response):
    review = response.headers["Location"]
    token = csrf_token(client, review)
    return client.post(review + "/apply", data={"csrf_token": token})


def _count(app, world):
    with app.app_context(), tenant_scope(world.a.id):
        return db.session.scalar(sa.select(sa.func.count(Partner.id)))


def _version(app, world):
    with app.app_context():
        return db.session.get(Tenant, world.a.id).config_version


def test_a_file_is_checked_first_and_imported_only_when_confirmed(app, client, login_as, world):
    _catalogue(app, world)
    login_as("channel_manager")
    response = _upload(client, "\n".join([HEADER, _line("Alpha GmbH"), _line("Beta GmbH")]))
    assert response.status_code == 302
    review = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "2 to create" in review and "will be created" in review
    assert _count(app, world) == 2
    before = _version(app, world)
    assert _apply(client, response).status_code == 302
    assert _count(app, world) == 4 and _version(app, world) == before + 1


def test_a_file_with_broken_lines_reports_each_and_imports_nothing(app, client, login_as, world):
    _catalogue(app, world)
    login_as("channel_manager")
    lines = [_line(f"Partner {n:02d}") for n in range(18)] + [
        _line("Broken One", capacity="-5"),
        "Broken Two,Platinum,,3,XX,Europe/Berlin,,,,,DE,CB:1",
    ]
    response = _upload(client, "\n".join([HEADER, *lines]))
    review = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "2 with errors" in review and "Capacity cannot be negative." in review
    assert re.search(r">\s*20\s*</td>\s*<td>Broken One", review)
    assert "unknown tier" in review and "not an ISO 3166-1 country code" in review
    applied = _apply(client, response)
    assert "nothing was imported" in client.get(applied.headers["Location"]).get_data(as_text=True)
    assert _count(app, world) == 2


def test_a_wrong_header_an_empty_file_and_latin_1_bytes_get_clear_errors(
    app, client, login_as, world
):
    login_as("channel_manager")
    cases = {
        "The header line is wrong": "name,tier\nA,Gold\n",
        "The file is empty.": "",
        "not UTF-8": (HEADER + "\nMüller GmbH,Gold,,1,DE,Europe/Berlin,,,,,,\n").encode("latin-1"),
    }
    for message, content in cases.items():
        response = _upload(client, content)
        assert response.status_code == 400 and message in response.get_data(as_text=True), message
    with app.app_context(), tenant_scope(world.a.id):
        assert db.session.scalar(sa.select(sa.func.count(PartnerImport.id))) == 0


def test_a_file_of_fifty_thousand_lines_is_refused_as_a_whole(app, client, login_as, world):
    login_as("channel_manager")
    content = HEADER + "\n" + "\n".join(_line(f"P{n}") for n in range(50_000))
    response = _upload(client, content)
    assert response.status_code == 400 and "split it into smaller files" in response.get_data(
        as_text=True
    )
    assert _count(app, world) == 2


def test_exporting_then_importing_the_file_unchanged_changes_nothing(app, client, login_as, world):
    _catalogue(app, world)
    with app.app_context(), tenant_scope(world.a.id):
        PartnerFactory(name='=HYPERLINK("http://evil")', contact_name="+cmd")
        db.session.commit()
    login_as("channel_manager")
    exported = client.get("/partners/export.csv")
    assert (
        exported.mimetype == "text/csv" and "attachment" in exported.headers["Content-Disposition"]
    )
    text = exported.get_data(as_text=True)
    assert "'=HYPERLINK" in text and ",'+cmd," in text
    before = _version(app, world)
    response = _upload(client, text)
    review = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "0 to create" in review and "0 to change" in review and "3 unchanged" in review
    _apply(client, response)
    assert _version(app, world) == before


def test_an_import_changes_a_partner_and_its_coverage_to_match_the_file(
    app, client, login_as, world
):
    _catalogue(app, world)
    login_as("channel_manager")
    _apply(client, _upload(client, "\n".join([HEADER, _line("Gamma AG")])))
    response = _upload(
        client, "\n".join([HEADER, "Gamma AG,Gold,paused,44,DE,Europe/Berlin,,,,,,"])
    )
    review = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "1 to change" in review and "44" in review
    _apply(client, response)
    with app.app_context(), tenant_scope(world.a.id):
        partner = db.session.scalar(sa.select(Partner).where(Partner.name == "Gamma AG"))
        assert (partner.status, partner.capacity) == ("paused", 44)
        assert partner.territories == [] and partner.products == []


def test_a_file_naming_postal_prefixes_the_old_way_covers_the_recoded_ones(
    app, client, login_as, world
):
    _catalogue(app, world)
    with app.app_context(), tenant_scope(world.a.id):
        for code, prefix in (("DE-PC-80", "80"), ("DE-10", "10")):
            db.session.add(
                Territory(code=code, name=code, kind="postal", country="DE", postal_prefix=prefix)
            )
        db.session.commit()
    login_as("channel_manager")
    line = _line("Zeta AG").replace(",DE,CB:1", ",DE; DE-80; de-10,CB:1")
    _apply(client, _upload(client, "\n".join([HEADER, line])))
    with app.app_context(), tenant_scope(world.a.id):
        partner = db.session.scalar(sa.select(Partner).where(Partner.name == "Zeta AG"))
        codes = sorted(c.territory.code for c in partner.territories)
    assert codes == ["DE", "DE-10", "DE-PC-80"]


def test_a_checked_file_is_imported_at_most_once(app, client, login_as, world):
    _catalogue(app, world)
    login_as("channel_manager")
    response = _upload(client, "\n".join([HEADER, _line("Delta AG")]))
    _apply(client, response)
    again = _apply(client, response)
    assert "imported already" in client.get(again.headers["Location"]).get_data(as_text=True)
    assert _count(app, world) == 3


def test_importing_is_for_managers_and_an_upload_of_another_tenant_is_not_found(
    app, client, login_as, world
):
    _catalogue(app, world)
    login_as("channel_manager")
    response = _upload(client, "\n".join([HEADER, _line("Epsilon AG")]))
    review = response.headers["Location"]
    staff = app.test_client()
    from tests.conftest import login

    login(staff, world.a.staff.email)
    assert staff.get("/partners/import").status_code == 403
    assert staff.get("/partners/export.csv").status_code == 200
    other = app.test_client()
    login(other, world.b.manager.email)
    assert other.get(review).status_code == 404
    token = csrf_token(other, "/partners/import")
    assert other.post(review + "/apply", data={"csrf_token": token}).status_code == 404
