"""Every page a demo user reaches by following links answers without a server error: the
demo's data (leads in every state, offers, scorecards, incentives) through the real pages,
as each role of the quick start sees them, in both of its tenants."""

from __future__ import annotations

import html
import re
from collections import Counter, deque

from tests.conftest import login

PASSWORD = "demo-portal-2026"
LOGINS = ("admin@acme.example", "manager@acme.example", "staff@acme.example",
          "partner1@acme.example", "manager@globex.example", "partner2@globex.example")  # fmt: skip
LINK = re.compile(r'href="(/[^"#]*)"')
NOT_FOLLOWED = ("/static/", "/logout")
# Pages of one shape (a lead, its offer, page 7 of a list) are alike: a few of each will do.
PER_SHAPE = 3
MOST_PAGES = 300


def crawl(client) -> dict[str, int]:
    """Each page reached from the home page by links, breadth first: path -> status."""
    answers: dict[str, int] = {}
    shapes: Counter[str] = Counter()
    waiting = deque(["/"])
    while waiting and len(answers) < MOST_PAGES:
        path = waiting.popleft()
        shape = re.sub(r"\d+", "#", path)
        if path in answers or shapes[shape] >= PER_SHAPE:
            continue
        shapes[shape] += 1
        response = client.get(path)
        answers[path] = response.status_code
        if response.status_code == 200 and response.mimetype == "text/html":
            for link in LINK.findall(response.get_data(as_text=True)):
                link = html.unescape(link)
                if not link.startswith(NOT_FOLLOWED) and link not in answers:
                    waiting.append(link)
    return answers


def test_every_page_a_demo_user_reaches_answers_without_error(app):
    result = app.test_cli_runner().invoke(args=["demo", "--password", PASSWORD])
    assert result.exit_code == 0, result.output
    for email in LOGINS:
        client = app.test_client()
        assert login(client, email, PASSWORD).status_code == 302
        answers = crawl(client)
        failed = {path: status for path, status in answers.items() if status >= 500}
        broken = {path: status for path, status in answers.items() if status in (403, 404)}
        assert not failed, (email, failed)
        assert not broken, (email, broken)
        assert len(answers) >= 20, (email, answers)
