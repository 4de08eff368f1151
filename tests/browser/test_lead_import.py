"""A channel manager imports leads from a CSV file in the browser: map, check, import, fix."""

from __future__ import annotations

import csv
import io
import math
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from playwright.sync_api import Dialog, Page, expect

from portal.extensions import db
from portal.leads import csv_import
from portal.leads.models import Lead
from portal.tenancy.scoping import tenant_scope
from tests.browser.conftest import LiveServer
from tests.browser.test_smoke import sign_in
from tests.factories import ProductFactory

# A job's end is waited for, never timed: a slow machine makes the test slow, not red.
JOB = 120_000
HEADER = ["Lead ID", "Company", "E-mail", "Country", "Product", "Branche"]
GUESSED = {
    "Lead ID": "external_id",
    "Company": "company_name",
    "E-mail": "contact_email",
    "Country": "country",
    "Product": "product",
    "Branche": "",
}
FORMULA = '=HYPERLINK("http://evil.example")'


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    """A browser set to German: numbers on the page still read as the portal writes them."""
    return {**browser_context_args, "locale": "de-DE"}


class ChunkGate:
    """Holds the import jobs of the live server after each chunk until the test lets them on.

    The page is then seen in the middle of a job however fast the machine runs it; without
    the gate a quick job could be over before its page had loaded.
    """

    def __init__(self) -> None:
        self._passes = threading.Semaphore(0)

    def let_on(self, chunks: int) -> None:
        self._passes.release(chunks)

    def hold(self, handle: Callable[..., None]) -> Callable[..., None]:
        def held(*args: Any) -> None:
            handle(*args)
            self._passes.acquire()

        return held


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[ChunkGate]:
    gate = ChunkGate()
    # The live server runs in this process, so its job threads call the patched functions.
    monkeypatch.setattr(csv_import, "_check_chunk", gate.hold(csv_import._check_chunk))
    monkeypatch.setattr(csv_import, "_import_chunk", gate.hold(csv_import._import_chunk))
    yield gate
    gate.let_on(1_000)  # a test that failed half-way leaves no job waiting


def _product(live_server: LiveServer, code: str) -> None:
    with live_server.app.app_context(), tenant_scope(live_server.a.id):
        ProductFactory(code=code, name=f"Product {code}")
        db.session.commit()


def _leads_file(
    prefix: str, count: int, product: str, bad: dict[int, dict[str, str]] | None = None
) -> bytes:
    """`count` lead lines under a header; the cells in `bad`, by line number, replace good ones."""
    out = io.StringIO()
    writer = csv.DictWriter(out, HEADER, lineterminator="\r\n")
    writer.writeheader()
    for line in range(2, count + 2):
        good = {
            "Lead ID": f"{prefix}-{line}",
            "Company": f"Firm {line} GmbH",
            "E-mail": f"buyer{line}@firm{line}.example",
            "Country": "DE",
            "Product": product,
            "Branche": "Manufacturing" if line % 2 else "Retail",
        }
        writer.writerow({**good, **(bad or {}).get(line, {})})
    return out.getvalue().encode()


def _choose_file(page: Page, name: str, content: bytes) -> None:
    page.get_by_test_id("nav").get_by_role("link", name="Leads", exact=True).click()
    page.get_by_role("link", name="Import from CSV").click()
    expect(page.get_by_role("heading", name="Import leads from CSV")).to_be_visible()
    page.get_by_label("CSV file").set_input_files(
        {"name": name, "mimeType": "text/csv", "buffer": content}
    )
    page.get_by_role("button", name="Upload and map the columns").click()
    expect(page.get_by_role("heading", name="Which column holds what?")).to_be_visible()


def _column(page: Page, name: str) -> Any:
    return page.get_by_test_id("column-mapping").get_by_label(name, exact=True)


def test_a_manager_checks_a_big_file_imports_its_good_lines_and_downloads_the_rest(
    page: Page, live_server: LiveServer, gate: ChunkGate
) -> None:
    _product(live_server, "VB")
    lines = 3_600
    bad = {
        3: {"E-mail": "buyer3@"},
        1_802: {"Company": FORMULA},
        lines + 1: {"Company": ""},
    }
    good = lines - len(bad)
    chunks = math.ceil(lines / csv_import.CHUNK)
    assert chunks >= 3  # enough for the bar to be seen standing and then moving
    sign_in(page, live_server, live_server.a.manager.email)

    _choose_file(page, "spring-fair.csv", _leads_file("FAIR", lines, "VB", bad))
    expect(page.get_by_text("spring-fair.csv: 3,600 lines, read as utf-8")).to_be_visible()
    for column, field in GUESSED.items():
        expect(_column(page, column)).to_have_value(field)
    _column(page, "Branche").select_option(label="Industry")
    page.get_by_role("button", name="Check every line").click()

    progress = page.get_by_test_id("import-progress")
    bar = progress.locator("progress")
    expect(progress).to_contain_text("Checking every line")
    expect(bar).to_have_attribute("max", str(lines))
    # Held after its first chunk; the page may have been drawn before that chunk was done.
    expect(bar).to_have_attribute("value", "1000", timeout=JOB)
    expect(progress).to_contain_text("1,000 of 3,600 lines (28%)")
    gate.let_on(1)
    # The page is not reloaded for this: its poll of the job's progress moves the bar.
    expect(bar).to_have_attribute("value", "2000", timeout=JOB)
    expect(progress).to_contain_text("2,000 of 3,600 lines (56%)")
    gate.let_on(chunks - 1)

    summary = page.get_by_test_id("import-summary")
    expect(summary).to_contain_text(f"{good:,} to take in", timeout=JOB)
    expect(summary).to_contain_text("0 taken in before")
    expect(summary).to_contain_text("3 with problems")
    expect(progress).to_have_count(0)
    problems = page.get_by_test_id("import-problems").locator("tbody tr")
    expect(problems).to_have_count(3)
    for row, cells in enumerate(
        [
            ["3", "Contact e-mail", re.compile(".")],
            ["1802", "Company", re.compile("^The cell holds a spreadsheet formula")],
            [str(lines + 1), "Company", "Give the company's name."],
        ]
    ):
        expect(problems.nth(row).locator("td")).to_have_text(cells)
    assert _imported(live_server) == []

    dialogs = _accept_next_confirm(page)
    page.get_by_role("button", name=f"Import {good:,} leads").click()
    expect(progress).to_contain_text("Importing the valid lines")
    expect(bar).to_have_attribute("value", "1000", timeout=JOB)
    assert dialogs == ["Import the lines without problems now? Lines with problems are left out."]
    gate.let_on(chunks)

    imported = page.get_by_test_id("import-summary")
    expect(imported).to_contain_text(
        f"Imported: {good:,} leads taken in, 0 were taken in before, 3 lines left out",
        timeout=JOB,
    )
    expect(page.get_by_test_id("import-problems").locator("tbody tr")).to_have_count(3)
    leads = _imported(live_server)
    assert len(leads) == good
    assert {industry for _, industry in leads} == {"Manufacturing", "Retail"}

    rows = _download(page, "Download the lines left out", "spring-fair-rejected.csv")
    assert rows[0] == ["line", "problems", *HEADER]
    assert [row[0] for row in rows[1:]] == ["3", "1802", str(lines + 1)]
    assert rows[1][1].startswith("Contact e-mail:") and rows[1][4] == "buyer3@"
    assert rows[2][1].startswith("Company: The cell holds a spreadsheet formula")
    # A spreadsheet shows the formula as text instead of running it.
    assert rows[2][3] == "'" + FORMULA
    assert rows[3][1] == "Company: Give the company's name." and rows[3][3] == ""


def _accept_next_confirm(page: Page) -> list[str]:
    """Say yes to the next confirm() of the page; the list gets its question."""
    questions: list[str] = []

    def accept(dialog: Dialog) -> None:
        questions.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    return questions


def _download(page: Page, link: str, filename: str) -> list[list[str]]:
    """The rows of the CSV file a link downloads, which must be offered under `filename`."""
    with page.expect_download() as download:
        page.get_by_role("link", name=link).click()
    assert download.value.suggested_filename == filename
    return list(csv.reader(io.StringIO(download.value.path().read_text("utf-8-sig"))))


def _imported(live_server: LiveServer) -> list[tuple[str, str | None]]:
    with live_server.app.app_context(), tenant_scope(live_server.a.id):
        query = sa.select(Lead.external_id, Lead.industry).where(Lead.external_id.like("FAIR-%"))
        return [tuple(row) for row in db.session.execute(query)]


def test_a_mapping_without_a_company_column_is_refused_and_the_upload_kept(
    page: Page, live_server: LiveServer
) -> None:
    _product(live_server, "VK")
    sign_in(page, live_server, live_server.a.manager.email)
    _choose_file(page, "trade-show.csv", _leads_file("SHOW", 4, "VK"))
    mapping_url = page.url
    _column(page, "Company").select_option(label="— leave out —")
    _column(page, "Branche").select_option(label="Contact e-mail")

    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Check every line").click()

    assert answer.value.status == 400
    expect(page).to_have_url(mapping_url)
    form = page.locator("form").filter(has=page.get_by_test_id("column-mapping"))
    above = form.locator("xpath=preceding-sibling::div[@role='alert']")
    expect(above).to_have_text("Choose the column that holds: Company.")
    branche = _column(page, "Branche")
    expect(branche).to_have_class(re.compile(r"\bis-invalid\b"))
    expect(branche).to_have_accessible_description("Contact e-mail is already taken from column 3.")
    # The file is still there, with the choices just made, ready to be put right.
    expect(page.get_by_text("trade-show.csv: 4 lines, read as utf-8")).to_be_visible()
    expect(_column(page, "Company")).to_have_value("")
    expect(_column(page, "Country")).to_have_value("country")

    _column(page, "Company").select_option(label="Company")
    branche.select_option(label="Industry")
    page.get_by_role("button", name="Check every line").click()
    expect(page.get_by_test_id("import-summary")).to_contain_text("4 to take in", timeout=JOB)
    expect(page.get_by_test_id("no-problems")).to_be_visible()
    expect(page).to_have_url(mapping_url.removesuffix("/columns"))
