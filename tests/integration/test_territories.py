"""The territory pages: the list by kind, adding, editing and deleting territories."""

import pytest
import sqlalchemy as sa

from portal.audit import AuditEvent
from portal.extensions import db
from portal.partners import geo_services
from portal.partners.models import PartnerTerritory, Territory
from portal.tenancy.models import Tenant, User
from portal.tenancy.scoping import tenant_scope
from tests.conftest import csrf_token, post_form
from tests.factories import PartnerFactory

INDEX = "/network/territories/"
NEW = "/network/territories/new"
BLANK = {
    "kind": "country",
    "code": "",
    "name": "",
    "country": "",
    "subdivision": "",
    "postal_prefix": "",
    "region_countries": "",
}


def _form(**values):
    return {**BLANK, **values}


def _add(app, tenant_id, *specs, covered_by=0):
    """Territories from dicts of their fields; each covered by covered_by new partners."""
    with app.app_context(), tenant_scope(tenant_id):
        territories = [Territory(**spec) for spec in specs]
        db.session.add_all(territories)
        db.session.flush()
        for territory in territories:
            for _ in range(covered_by):
                partner = PartnerFactory()
                db.session.add(PartnerTerritory(partner_id=partner.id, territory_id=territory.id))
        db.session.commit()
        return [t.id for t in territories]


GERMANY = {"code": "DE", "name": "Germany", "kind": "country", "country": "DE"}
DACH = {"code": "DACH", "name": "DACH", "kind": "region", "region_countries": ["AT", "CH", "DE"]}
MUNICH = {
    "code": "DE-PC-80",
    "name": "Munich",
    "kind": "postal",
    "country": "DE",
    "postal_prefix": "80",
}
BAVARIA = {
    "code": "DE-BY",
    "name": "Bayern",
    "kind": "subdivision",
    "country": "DE",
    "subdivision": "DE-BY",
}


def _territories(app, tenant_id):
    with app.app_context(), tenant_scope(tenant_id):
        query = sa.select(
            Territory.code,
            Territory.name,
            Territory.kind,
            Territory.country,
            Territory.subdivision,
            Territory.postal_prefix,
            Territory.region_countries,
        ).order_by(Territory.code)
        return [tuple(row) for row in db.session.execute(query)]


def _config_version(app, tenant_id):
    with app.app_context():
        return db.session.get(Tenant, tenant_id).config_version


def _audit(app, tenant_id):
    with app.app_context(), tenant_scope(tenant_id):
        query = sa.select(AuditEvent.action, AuditEvent.changes).order_by(AuditEvent.id)
        return [tuple(row) for row in db.session.execute(query)]


def _post(client, url, data=None):
    return client.post(url, data={"csrf_token": csrf_token(client, INDEX), **(data or {})})


# Reading -----------------------------------------------------------------------------------


def test_the_list_groups_territories_by_kind_in_plain_words_with_partner_counts(
    app, client, login_as, world
):
    _add(app, world.a.id, MUNICH, covered_by=3)
    _add(app, world.a.id, GERMANY, DACH, {"code": "GLOBAL", "name": "Global", "kind": "global"})
    _add(app, world.a.id, BAVARIA)
    login_as("vendor_staff")
    page = client.get(INDEX).get_data(as_text=True)
    headings = ["Global", "Regions", "Countries", "Subdivisions", "Postal prefixes"]
    positions = [page.index(f'<h2 class="h5 mt-4">{h}</h2>') for h in headings]
    assert positions == sorted(positions)
    assert "Postal codes starting 80 in Germany" in page
    assert "Region DACH: Austria, Germany, Switzerland" in page
    assert "Bayern (DE-BY) in Germany" in page
    assert "3 partners" in page
    assert "Add a territory" not in page and "Delete" not in page


def test_a_manager_sees_the_add_link_and_the_actions(app, client, login_as, world):
    _add(app, world.a.id, GERMANY)
    login_as("channel_manager")
    page = client.get(INDEX).get_data(as_text=True)
    assert "Add a territory" in page and "Edit" in page and "Delete" in page


def test_a_tenant_without_territories_gets_a_clear_empty_state(client, login_as):
    login_as("channel_manager")
    response = client.get(INDEX)
    assert response.status_code == 200
    assert 'data-testid="empty-state"' in response.get_data(as_text=True)


def test_the_country_filter_shows_the_territories_with_places_in_that_country(
    app, client, login_as, world
):
    france = {"code": "FR", "name": "France", "kind": "country", "country": "FR"}
    benelux = {
        "code": "BENELUX",
        "name": "Benelux",
        "kind": "region",
        "region_countries": ["BE", "LU", "NL"],
    }
    _add(app, world.a.id, GERMANY, DACH, MUNICH, france, benelux)
    _add(app, world.a.id, {"code": "WORLD", "name": "World", "kind": "global"})
    login_as("vendor_staff")
    page = client.get(INDEX + "?country=de").get_data(as_text=True)
    for code in ("DE", "DACH", "DE-PC-80", "WORLD"):
        assert f"<code>{code}</code>" in page
    assert "<code>FR</code>" not in page and "<code>BENELUX</code>" not in page
    assert 'data-testid="filter-summary"' in page


def test_an_unknown_country_in_the_filter_is_explained_and_every_territory_shown(
    app, client, login_as, world
):
    _add(app, world.a.id, GERMANY)
    login_as("vendor_staff")
    response = client.get(INDEX + "?country=XX")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="filter-country-error"' in page and "<code>DE</code>" in page


def test_more_than_a_hundred_territories_are_paged(app, client, login_as, world):
    specs = [
        {
            "code": f"DE-PC-{n:03}",
            "name": f"Area {n}",
            "kind": "postal",
            "country": "DE",
            "postal_prefix": f"{n:03}",
        }
        for n in range(105)
    ]
    _add(app, world.a.id, *specs)
    login_as("vendor_staff")
    first = client.get(INDEX).get_data(as_text=True)
    second = client.get(INDEX + "?page=2").get_data(as_text=True)
    assert "<code>DE-PC-099</code>" in first and "<code>DE-PC-100</code>" not in first
    assert "<code>DE-PC-104</code>" in second and "105 in all, page 1 of 2" in first


def test_territory_choices_run_from_global_to_postal_then_by_code(app, world):
    _add(
        app,
        world.a.id,
        MUNICH,
        GERMANY,
        DACH,
        {"code": "AT", "name": "Austria", "kind": "country", "country": "AT"},
    )
    with app.app_context(), tenant_scope(world.a.id):
        codes = [t.code for t in geo_services.territory_choices()]
        described = geo_services.describe_territory(geo_services.territory_choices()[-1])
    assert codes == ["DACH", "AT", "DE", "DE-PC-80"]
    assert described == "Postal codes starting 80 in Germany"


# Adding ------------------------------------------------------------------------------------


def test_the_add_form_has_the_labelled_fields_and_the_save_button(client, login_as):
    login_as("channel_manager")
    page = client.get(NEW).get_data(as_text=True)
    for label in (
        "Kind",
        "Code",
        "Name",
        "Country",
        "Subdivision",
        "Postal prefix",
        "Countries of the region",
    ):
        assert f">{label}</label>" in page
    assert "Save territory" in page
    assert "<script>" not in page and "js/territory_form.js" in page


def test_a_manager_adds_a_postal_prefix_with_default_code_and_name_audited_and_versioned(
    app, client, login_as, world
):
    before = _config_version(app, world.a.id)
    login_as("channel_manager")
    data = _form(kind="postal", country="de", postal_prefix="80")
    response = post_form(client, NEW, data)
    assert response.status_code == 302
    assert _territories(app, world.a.id) == [
        ("DE-PC-80", "Germany, postal codes 80…", "postal", "DE", None, "80", [])
    ]
    assert _config_version(app, world.a.id) == before + 1
    action, changes = _audit(app, world.a.id)[-1]
    assert action == "territory.created" and changes["code"] == "DE-PC-80"
    page = client.get(INDEX).get_data(as_text=True)
    assert "Territory DE-PC-80 added: Postal codes starting 80 in Germany." in page


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            _form(kind="country", country="de"),
            ("DE", "Germany", "country", "DE", None, None, []),
        ),
        (
            _form(kind="subdivision", country="DE", subdivision="de-by"),
            ("DE-BY", "Bayern", "subdivision", "DE", "DE-BY", None, []),
        ),
        (
            _form(kind="subdivision", subdivision="DE-BY"),
            ("DE-BY", "Bayern", "subdivision", "DE", "DE-BY", None, []),
        ),
        (
            _form(kind="region", code="dach", region_countries="DE, AT, CH", country="FR"),
            ("DACH", "DACH", "region", None, None, None, ["AT", "CH", "DE"]),
        ),
        (
            _form(kind="region", code="EMEA", name="Europe and Africa", region_countries="de za"),
            ("EMEA", "Europe and Africa", "region", None, None, None, ["DE", "ZA"]),
        ),
        (
            _form(kind="global", country="DE", postal_prefix="80"),
            ("GLOBAL", "Global", "global", None, None, None, []),
        ),
        (
            _form(kind="postal", code="munich", name="Munich", country="DE", postal_prefix="80"),
            ("MUNICH", "Munich", "postal", "DE", None, "80", []),
        ),
    ],
)
def test_each_kind_keeps_only_its_own_fields_with_codes_in_capitals(
    app, client, login_as, world, data, expected
):
    login_as("channel_manager")
    assert post_form(client, NEW, data).status_code == 302
    assert _territories(app, world.a.id) == [expected]


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (_form(kind="country", country="XX"), "country", "is not an ISO 3166-1 country"),
        (_form(kind="country"), "country", "Enter the country&#39;s ISO code"),
        (_form(kind="postal", postal_prefix="80"), "country", "Enter the country"),
        (
            _form(kind="subdivision", country="DE", subdivision="DE-XX"),
            "subdivision",
            "is not an ISO 3166-2 subdivision",
        ),
        (
            _form(kind="subdivision", country="AT", subdivision="DE-BY"),
            "subdivision",
            "DE-BY is not in AT.",
        ),
        (_form(kind="subdivision", country="DE"), "subdivision", "Enter the ISO 3166-2 code"),
        (
            _form(kind="subdivision", country="QQ", subdivision="DE-BY"),
            "country",
            "is not an ISO 3166-1",
        ),
        (
            _form(kind="postal", country="DE", postal_prefix="80*"),
            "postal_prefix",
            "Use 1 to 10 letters",
        ),
        (_form(kind="postal", country="DE"), "postal_prefix", "Enter the start of the postal"),
        (_form(kind="region", code="DACH"), "region_countries", "Name at least one country"),
        (
            _form(kind="region", code="DACH", region_countries="DE, XX"),
            "region_countries",
            "&#39;XX&#39; is not an ISO 3166-1",
        ),
        (_form(kind="region", region_countries="DE, AT"), "code", "Give the region a code"),
        (_form(kind="country", country="DE", code="D E"), "code", "Use 1 to 40 letters"),
        (_form(kind="country", country="DE", name="x" * 121), "name", "at most 120"),
        (_form(kind="planet"), "kind", "Choose global, region"),
    ],
)
def test_bad_territory_input_is_shown_next_to_the_field_and_nothing_is_saved(
    app, client, login_as, world, data, field, message
):
    login_as("channel_manager")
    before = _config_version(app, world.a.id)
    response = post_form(client, NEW, data)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f'id="{field}-error"' in page and message in page
    assert _territories(app, world.a.id) == []
    assert _config_version(app, world.a.id) == before


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            _form(kind="region", region_countries="AT", code="world"),
            "code",
            "A territory with code WORLD exists already",
        ),
        (
            _form(kind="country", country="DE", code="GERMANY"),
            "country",
            "DE is this territory already: All of Germany.",
        ),
        (
            _form(kind="postal", country="DE", postal_prefix="80", code="MUC"),
            "postal_prefix",
            "DE-PC-80 is this territory already",
        ),
        (_form(kind="global"), "kind", "There is a global territory already (WORLD)"),
    ],
)
def test_a_duplicate_code_place_or_second_global_territory_is_refused(
    app, client, login_as, world, data, field, message
):
    _add(app, world.a.id, GERMANY, MUNICH, {"code": "WORLD", "name": "World", "kind": "global"})
    before = _territories(app, world.a.id)
    login_as("channel_manager")
    response = post_form(client, NEW, data)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f'id="{field}-error"' in page and message in page
    assert _territories(app, world.a.id) == before


def test_a_subdivision_and_a_postal_prefix_spelt_alike_can_both_be_added(
    app, client, login_as, world
):
    login_as("channel_manager")
    rhone = _form(kind="subdivision", country="FR", subdivision="FR-69")
    lyon = _form(kind="postal", country="FR", postal_prefix="69")
    assert post_form(client, NEW, rhone).status_code == 302
    assert post_form(client, NEW, lyon).status_code == 302
    assert _territories(app, world.a.id) == [
        ("FR-69", "Rhône", "subdivision", "FR", "FR-69", None, []),
        ("FR-PC-69", "France, postal codes 69…", "postal", "FR", None, "69", []),
    ]
    page = client.get(INDEX + "?country=FR").get_data(as_text=True)
    assert "Rhône (FR-69) in France" in page and "Postal codes starting 69 in France" in page


def test_the_service_adds_a_postal_prefix_and_then_the_subdivision_spelt_alike(app, world):
    with app.app_context(), tenant_scope(world.a.id):
        manager = db.session.get(User, world.a.manager.id)
        tokyo = geo_services.create_territory(
            {"kind": "postal", "country": "JP", "postal_prefix": "13"}, actor=manager
        )
        prefecture = geo_services.create_territory(
            {"kind": "subdivision", "subdivision": "JP-13"}, actor=manager
        )
        assert (tokyo.code, prefecture.code) == ("JP-PC-13", "JP-13")
        assert prefecture.name == "Tokyo" and prefecture.country == "JP"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            _form(kind="postal", country="FR", postal_prefix="69", code="fr-69"),
            "FR-69 is the ISO 3166-2 code of Rhône; only that subdivision can have it. "
            "Leave the code empty to use FR-PC-69, or choose another.",
        ),
        (
            _form(kind="postal", country="DE", postal_prefix="80", code="DE-80"),
            "DE-80 looks like an ISO 3166-2 code, which only a subdivision can have.",
        ),
        (
            _form(kind="subdivision", country="DE", subdivision="DE-BY", code="DE-PC-80"),
            "DE-PC-80 is the code of postal codes starting 80 in Germany; "
            "only that prefix can have it. "
            "Leave the code empty to use DE-BY, or choose another.",
        ),
        (
            _form(kind="subdivision", country="FR", subdivision="FR-69", code="FR-75C"),
            "FR-75C is the ISO 3166-2 code of Paris; only that subdivision can have it.",
        ),
        (
            _form(kind="region", region_countries="DE, AT", code="DE"),
            "DE is the ISO 3166-1 code of Germany; only that country can have it. Choose another.",
        ),
    ],
)
def test_a_code_that_reads_as_another_territory_is_refused_at_the_code_field(
    app, client, login_as, world, data, message
):
    login_as("channel_manager")
    response = post_form(client, NEW, data)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="code-error"' in page and message in page
    assert _territories(app, world.a.id) == []


def test_the_same_code_in_another_tenant_is_no_duplicate(app, client, login_as, world):
    _add(app, world.b.id, GERMANY)
    login_as("channel_manager")
    assert post_form(client, NEW, _form(kind="country", country="DE")).status_code == 302


# Editing -----------------------------------------------------------------------------------


def test_the_edit_form_shows_the_territory_as_it_is(app, client, login_as, world):
    (dach_id,) = _add(app, world.a.id, DACH)
    login_as("channel_manager")
    page = client.get(f"/network/territories/{dach_id}/edit").get_data(as_text=True)
    assert 'value="AT, CH, DE"' in page and "Edit territory DACH" in page


def test_a_manager_changes_a_regions_countries_audited_and_versioned(app, client, login_as, world):
    (dach_id,) = _add(app, world.a.id, DACH)
    before = _config_version(app, world.a.id)
    login_as("channel_manager")
    url = f"/network/territories/{dach_id}/edit"
    data = _form(kind="region", code="DACH", name="D-A-CH", region_countries="DE AT CH LI")
    assert post_form(client, url, data).status_code == 302
    assert _territories(app, world.a.id) == [
        ("DACH", "D-A-CH", "region", None, None, None, ["AT", "CH", "DE", "LI"])
    ]
    assert _config_version(app, world.a.id) == before + 1
    action, changes = _audit(app, world.a.id)[-1]
    assert action == "territory.updated"
    assert changes["region_countries"] == [["AT", "CH", "DE"], ["AT", "CH", "DE", "LI"]]


def test_a_territory_can_change_kind_with_the_same_checks(app, client, login_as, world):
    (munich_id,) = _add(app, world.a.id, MUNICH)
    login_as("channel_manager")
    url = f"/network/territories/{munich_id}/edit"
    bad = post_form(client, url, _form(kind="subdivision", country="DE", subdivision="AT-9"))
    assert bad.status_code == 400 and 'id="subdivision-error"' in bad.get_data(as_text=True)
    good = _form(kind="subdivision", country="DE", subdivision="DE-BY", name="Bavaria")
    assert post_form(client, url, good).status_code == 302
    assert _territories(app, world.a.id) == [
        ("DE-BY", "Bavaria", "subdivision", "DE", "DE-BY", None, [])
    ]


def test_saving_a_territory_unchanged_keeps_its_code_and_the_config_version(
    app, client, login_as, world
):
    (germany_id,) = _add(app, world.a.id, GERMANY)
    before = _config_version(app, world.a.id)
    login_as("channel_manager")
    data = _form(kind="country", code="DE", name="Germany", country="DE")
    assert post_form(client, f"/network/territories/{germany_id}/edit", data).status_code == 302
    assert _config_version(app, world.a.id) == before
    assert [a for a, _ in _audit(app, world.a.id)].count("territory.updated") == 0


def test_an_edit_cannot_take_the_code_of_another_territory(app, client, login_as, world):
    germany_id, _ = _add(app, world.a.id, GERMANY, DACH)
    login_as("channel_manager")
    data = _form(kind="country", code="DACH", country="DE")
    response = post_form(client, f"/network/territories/{germany_id}/edit", data)
    assert response.status_code == 400
    assert "A territory with code DACH exists already" in response.get_data(as_text=True)


def test_a_postal_prefix_still_coded_the_old_way_is_recoded_when_its_code_is_cleared(
    app, client, login_as, world
):
    (munich_id,) = _add(app, world.a.id, {**MUNICH, "code": "DE-80"})
    login_as("channel_manager")
    url = f"/network/territories/{munich_id}/edit"
    kept = _form(kind="postal", code="DE-80", name="Munich", country="DE", postal_prefix="80")
    refused = post_form(client, url, kept)
    assert refused.status_code == 400
    assert "Leave the code empty to use DE-PC-80" in refused.get_data(as_text=True)
    assert post_form(client, url, {**kept, "code": ""}).status_code == 302
    assert _territories(app, world.a.id)[0][:2] == ("DE-PC-80", "Munich")


# Deleting ----------------------------------------------------------------------------------


def test_a_manager_deletes_an_uncovered_territory_audited_and_versioned(
    app, client, login_as, world
):
    (germany_id,) = _add(app, world.a.id, GERMANY)
    before = _config_version(app, world.a.id)
    login_as("channel_manager")
    response = _post(client, f"/network/territories/{germany_id}/delete")
    assert response.status_code == 302
    assert _territories(app, world.a.id) == []
    assert _audit(app, world.a.id)[-1][0] == "territory.deleted"
    assert _config_version(app, world.a.id) == before + 1


def test_deleting_a_covered_territory_is_refused_with_the_reason(app, client, login_as, world):
    (munich_id,) = _add(app, world.a.id, MUNICH, covered_by=3)
    login_as("channel_manager")
    response = _post(client, f"/network/territories/{munich_id}/delete")
    assert response.status_code == 302
    page = client.get(INDEX).get_data(as_text=True)
    assert "3 partners cover DE-PC-80; remove it from them first." in page
    assert len(_territories(app, world.a.id)) == 1


# Access ------------------------------------------------------------------------------------


def test_vendor_staff_can_read_but_not_change_territories(app, client, login_as, world):
    (germany_id,) = _add(app, world.a.id, GERMANY)
    login_as("vendor_staff")
    assert client.get(INDEX).status_code == 200
    assert client.get(NEW).status_code == 403
    assert client.get(f"/network/territories/{germany_id}/edit").status_code == 403
    for url in (
        NEW,
        f"/network/territories/{germany_id}/edit",
        f"/network/territories/{germany_id}/delete",
    ):
        assert _post(client, url, _form(kind="country", country="FR")).status_code == 403
    assert len(_territories(app, world.a.id)) == 1


def test_a_partner_user_may_not_see_or_change_territories(app, client, login_as, world):
    (germany_id,) = _add(app, world.a.id, GERMANY)
    login_as("partner_user")
    assert client.get(INDEX).status_code == 403
    token = csrf_token(client, "/")
    response = client.post(f"/network/territories/{germany_id}/delete", data={"csrf_token": token})
    assert response.status_code == 403


def test_a_territory_of_another_tenant_is_not_found(app, client, login_as, world):
    (other_id,) = _add(app, world.b.id, GERMANY)
    login_as("channel_manager")
    assert client.get(f"/network/territories/{other_id}/edit").status_code == 404
    assert _post(client, f"/network/territories/{other_id}/delete").status_code == 404
    data = _form(kind="country", country="FR")
    assert _post(client, f"/network/territories/{other_id}/edit", data).status_code == 404
    assert len(_territories(app, world.b.id)) == 1
    assert "<code>DE</code>" not in client.get(INDEX).get_data(as_text=True)
