"""Lead CSV files through the pages: upload, column mapping, dry run, import, rejected lines.

Without Redis the jobs run at once inside the request, so each step's page already shows
the finished job; test_lead_import_jobs.py runs them on real workers and threads.
"""

import csv
import io
import re

import pytest
import sqlalchemy as sa

from portal.audit import AuditEvent
from portal.extensions import db
from portal.leads.models import Lead, LeadEvent, LeadImport, LeadImportProblem
from portal.tenancy.scoping import tenant_scope
from tests.conftest import csrf_token
from tests.factories import ProductFactory

HEADER = "Lead ID,Company,Website,E-mail,Country,Zip,Product,Deal size,Currency,Budget"
GOOD = [
    "L-1,Nordbank AG,nordbank.example,eva@nordbank.example,DE,20095,CB,48000,EUR,yes",
    "L-2,Südhafen GmbH,suedhafen.example,jo@suedhafen.example,DE,80331,CB,,,no",
]


@pytest.fixture
def products(app, world):
    with app.app_context(), tenant_scope(world.a.id):
        ProductFactory(code="CB", name="Cloud Backup")
        db.session.commit()


def _file(*lines, header=HEADER):
    return "\r\n".join([header, *lines]) + "\r\n"


def upload(client, content, filename="leads.csv", encoding="utf-8"):
    raw = content if isinstance(content, bytes) else content.encode()
    data = {
        "csrf_token": csrf_token(client, "/leads/imports/"),
        "file": (io.BytesIO(raw), filename),
        "encoding": encoding,
    }
    return client.post("/leads/imports/", data=data, content_type="multipart/form-data")


def map_columns(client, mapping_url, overrides=None):
    """Submit the mapping page as guessed, with some columns changed."""
    page = client.get(mapping_url).get_data(as_text=True)
    chosen = {}
    selects = re.findall(r'<select[^>]*name="(column-\d+)"[^>]*>(.*?)</select>', page, re.S)
    for name, options in selects:
        picked = re.search(r'<option selected value="([^"]*)"', options)
        chosen[name] = picked.group(1) if picked else ""
    chosen.update(overrides or {})
    return client.post(mapping_url, data={"csrf_token": csrf_token(client, mapping_url), **chosen})


def import_file(client, content, **kwargs):
    """Upload, keep the guessed mapping, and run the dry run; the status page's URL."""
    response = upload(client, content, **kwargs)
    assert response.status_code == 302, response.get_data(as_text=True)
    checked = map_columns(client, response.headers["Location"])
    assert checked.status_code == 302, checked.get_data(as_text=True)
    return checked.headers["Location"]


def start(client, status_url):
    return client.post(status_url + "/import", data={"csrf_token": csrf_token(client, status_url)})


def _leads(app, world, tenant="a"):
    with app.app_context(), tenant_scope(getattr(world, tenant).id):
        return list(db.session.scalars(sa.select(Lead).order_by(Lead.id)))


def _import(app, world):
    with app.app_context(), tenant_scope(world.a.id):
        return db.session.scalars(sa.select(LeadImport).order_by(LeadImport.id.desc())).first()


def test_upload_guesses_the_columns_and_shows_first_values(client, login_as, products):
    login_as("channel_manager")
    response = upload(client, _file(*GOOD))
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "2 lines, read as utf-8" in page
    assert "Nordbank AG" in page and "Südhafen GmbH" in page
    for field in ("external_id", "company_name", "company_domain", "contact_email", "bant_budget"):
        assert f'<option selected value="{field}">' in page


def test_a_dry_run_reports_every_problem_by_line_and_imports_nothing(
    app, client, login_as, world, products
):
    login_as("channel_manager")
    status = import_file(
        client,
        _file(
            GOOD[0],
            "L-3,,x.example,not-an-email,ZZ,,NOPE,lots,EUR,",
            GOOD[1],
        ),
    )
    page = client.get(status).get_data(as_text=True)
    assert "2 to take in" in page and "1 with problems" in page
    problems = re.findall(r'<tr><td class="text-end">(\d+)</td><td>([^<]+)</td>', page)
    assert sorted(problems) == [
        ("3", "Company"),
        ("3", "Contact e-mail"),
        ("3", "Country"),
        ("3", "Expected deal size"),
        ("3", "Product"),
    ]
    assert _leads(app, world) == []


def test_the_import_takes_in_the_valid_lines_once_and_scores_them(
    app, client, login_as, world, products
):
    login_as("channel_manager")
    status = import_file(client, _file(GOOD[0], "L-3,,,,,,,,,", GOOD[1]))
    assert start(client, status).status_code == 302
    page = client.get(status).get_data(as_text=True)
    assert "<strong>2</strong> leads taken in" in page and "1 lines left out" in page
    leads = _leads(app, world)
    assert [lead.external_id for lead in leads] == ["L-1", "L-2"]
    first = leads[0]
    assert first.company_name == "Nordbank AG" and first.postal_code == "20095"
    assert first.deal_size_minor == 4_800_000 and first.currency == "EUR"
    assert first.bant == {"budget": True} and leads[1].bant == {"budget": False}
    assert first.state in ("mql", "nurture")
    with app.app_context(), tenant_scope(world.a.id):
        events = db.session.scalars(sa.select(LeadEvent).where(LeadEvent.lead_id == first.id))
        # Created scored: one event, from no state, says where it came from and its score.
        [taken_in] = events
        assert taken_in.action.startswith("score_") and taken_in.from_state is None
        assert taken_in.to_state == first.state
        assert taken_in.reason.startswith("Taken in by CSV import. ")
        assert taken_in.actor_label == f"{world.a.manager.email} (CSV leads.csv)"
        actions = db.session.scalars(
            sa.select(AuditEvent.action).where(AuditEvent.action.like("lead_import.%"))
        ).all()
        assert set(actions) == {
            "lead_import.uploaded",
            "lead_import.checked",
            "lead_import.started",
        }
    # Started twice (a double click, a second tab): the second is refused, nothing doubles.
    again = start(client, status)
    assert "imported already" in client.get(again.headers["Location"]).get_data(as_text=True)
    assert len(_leads(app, world)) == 2


def test_a_second_import_of_the_same_file_takes_nothing_in_twice(
    app, client, login_as, world, products
):
    login_as("channel_manager")
    start(client, import_file(client, _file(*GOOD)))
    status = import_file(client, _file(*GOOD))
    assert "2 taken in before" in client.get(status).get_data(as_text=True)
    start(client, status)
    assert "<strong>0</strong> leads taken in, 2 were taken in before" in client.get(
        status
    ).get_data(as_text=True)
    assert len(_leads(app, world)) == 2


def test_the_rejected_lines_download_has_line_problems_and_the_cells_as_uploaded(
    app, client, login_as, world, products
):
    login_as("channel_manager")
    status = import_file(
        client,
        _file(GOOD[0], 'L-9,"=HYPERLINK(""http://evil.example"")",,bad@,DE,,,,,', GOOD[1]),
    )
    start(client, status)
    response = client.get(status + "/rejected.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert 'filename="leads-rejected.csv"' in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["line", "problems", *HEADER.split(",")]
    assert len(rows) == 2 and rows[1][0] == "3"
    assert "Company: The cell holds a spreadsheet formula" in rows[1][1]
    assert "Contact e-mail:" in rows[1][1]
    # The formula goes back out quoted, so a spreadsheet shows it instead of running it.
    assert rows[1][3] == '\'=HYPERLINK("http://evil.example")'
    assert [lead.external_id for lead in _leads(app, world)] == ["L-1", "L-2"]


def test_quotes_newlines_bom_and_latin_1_are_read_and_numbered_by_their_first_line(
    app, client, login_as, world, products
):
    login_as("channel_manager")
    content = _file(
        '"L-1","Nordbank ""North"" AG","nordbank.example","eva@nordbank.example","DE",'
        '"20095","CB","","",""',
        '"L-2","Hafen\nGmbH","hafen.example","x@","DE","","","","",""',
        GOOD[1],
    )
    status = import_file(client, ("\ufeff" + content).encode())
    page = client.get(status).get_data(as_text=True)
    assert re.search(r'<td class="text-end">3</td><td>Contact e-mail</td>', page)
    start(client, status)
    names = [lead.company_name for lead in _leads(app, world)]
    assert names == ['Nordbank "North" AG', "Südhafen GmbH"]

    latin = _file("L-7,Müller & Söhne KG,mueller.example,,AT,,,,,").encode("cp1252")
    refused = upload(client, latin)
    assert refused.status_code == 400
    assert "not UTF-8" in refused.get_data(as_text=True)
    start(client, import_file(client, latin, encoding="cp1252"))
    assert _leads(app, world)[-1].company_name == "Müller & Söhne KG"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The file is empty."),
        (b"   \r\n", "The file is empty."),
        (HEADER.encode(), "no lead lines"),
        (b"\r\n\r\nCompany\r\nAcme", "The first line must name the columns"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not UTF-8"),
    ],
)
def test_files_that_cannot_be_read_are_refused_next_to_the_file_field(
    app, client, login_as, world, content, message
):
    login_as("channel_manager")
    response = upload(client, content)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page and 'id="file-error"' in page
    with app.app_context(), tenant_scope(world.a.id):
        assert db.session.scalar(sa.select(sa.func.count(LeadImport.id))) == 0


def test_a_file_bigger_than_the_usual_limit_is_taken_but_not_one_past_the_upload_limit(
    app, client, login_as, products
):
    login_as("channel_manager")
    app.config["LARGE_UPLOAD_MAX_BYTES"] = 30 * 1024 * 1024
    try:
        line = GOOD[0].replace("L-1", "L-{n}") + "," + "x" * 200
        big = _file(*(line.format(n=n) for n in range(90_000)), header=HEADER + ",Notes")
        assert 20 * 1024 * 1024 < len(big) < 30 * 1024 * 1024
        assert upload(client, big).status_code == 302
        too_big = upload(client, big + big[: 10 * 1024 * 1024])
        assert too_big.status_code == 413
    finally:
        app.config["LARGE_UPLOAD_MAX_BYTES"] = 64 * 1024 * 1024


def test_the_mapping_needs_a_company_column_and_each_field_once(app, client, login_as, products):
    login_as("channel_manager")
    mapping_url = upload(client, _file(*GOOD)).headers["Location"]
    response = map_columns(client, mapping_url, {"column-1": "", "column-2": "contact_email"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Choose the column that holds: Company." in page
    assert re.search(r'id="column-3-error">Contact e-mail is already taken from column 3', page)
    tampered = map_columns(client, mapping_url, {"column-0": "password_hash"})
    assert tampered.status_code == 400 and "Not a valid choice" in tampered.get_data(as_text=True)


def test_changing_the_columns_runs_the_check_again(app, client, login_as, world, products):
    login_as("channel_manager")
    response = upload(client, _file(*GOOD))
    mapping_url = response.headers["Location"]
    status = map_columns(client, mapping_url, {"column-6": ""}).headers["Location"]
    assert "2 to take in" in client.get(status).get_data(as_text=True)
    again = map_columns(client, mapping_url, {"column-2": "", "column-3": "company_domain"})
    assert again.headers["Location"] == status
    assert "2 with problems" in client.get(status).get_data(as_text=True)
    with app.app_context(), tenant_scope(world.a.id):
        problems = db.session.scalars(sa.select(LeadImportProblem)).all()
        assert {p.field for p in problems} == {"company_domain"}  # the old run's are gone


def test_a_progress_answer_for_the_page_while_a_job_runs(client, login_as, products):
    login_as("channel_manager")
    status = import_file(client, _file(*GOOD))
    answer = client.get(status + "/progress").get_json()
    assert answer == {
        "state": "checked",
        "processed": 2,
        "total": 2,
        "percent": 100,
        "counts": {"new": 2, "existing": 0, "invalid": 0},
        "running": False,
    }


def test_the_recent_imports_list_and_the_empty_state(client, login_as, products):
    login_as("channel_manager")
    assert "No leads have been imported from a file yet." in client.get("/leads/imports/").get_data(
        as_text=True
    )
    import_file(client, _file(*GOOD), filename="spring-fair.csv")
    page = client.get("/leads/imports/").get_data(as_text=True)
    assert "spring-fair.csv" in page and "checked" in page


def test_other_tenants_and_lower_roles_cannot_reach_an_import(
    app, client, login_as, world, products
):
    login_as("channel_manager")
    status = import_file(client, _file(*GOOD))
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    paths = ["", "/columns", "/progress", "/rejected.csv"]
    login_as("channel_manager", "b")
    for path in paths:
        assert client.get(status + path).status_code == 404, path
    token = csrf_token(client, "/leads/imports/")
    for path in ("/import", "/resume", "/columns"):
        assert client.post(status + path, data={"csrf_token": token}).status_code == 404, path
    client.post("/logout", data={"csrf_token": token})
    for role in ("vendor_staff", "partner_user"):
        login_as(role)
        for path in paths:
            assert client.get(status + path).status_code == 403, (role, path)
        assert client.get("/leads/imports/").status_code == 403
        client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    assert len(_leads(app, world)) == 0
