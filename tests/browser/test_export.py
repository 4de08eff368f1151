"""The admin downloads the tenant's export from its page in a real browser."""

from __future__ import annotations

import json
import zipfile

from playwright.sync_api import Page, expect

from portal.tenancy.export import FILES
from tests.browser.conftest import LiveServer
from tests.browser.test_smoke import sign_in


def test_the_admin_reads_what_the_export_holds_and_downloads_it(
    page: Page, live_server: LiveServer, tmp_path
) -> None:
    sign_in(page, live_server, live_server.a.admin.email)
    page.get_by_test_id("nav").get_by_role("button", name="Admin").click()
    page.get_by_test_id("nav").get_by_role("link", name="Export", exact=True).click()
    expect(page.get_by_role("heading", name="Data export")).to_be_visible()
    expect(page.get_by_test_id("export-files")).to_contain_text("lead_events.jsonl")
    with page.expect_download() as waiting:
        page.get_by_test_id("download-export").click()
    download = waiting.value
    assert download.suggested_filename.startswith("tenant-a-export-")
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == [*FILES, "manifest.json"]
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["tenant"] == "tenant-a" and manifest["files"]["users.jsonl"] >= 5
    page.screenshot(path="/tmp/exp/export-page.png", full_page=True)
