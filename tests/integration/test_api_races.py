"""The lead API under real concurrency: every lead is taken in exactly once.

The app runs behind a real threaded HTTP server on a database of its own with real
commits, and the requests of each race leave their threads together through a barrier.
PostgreSQL runs them truly at once; SQLite lets one writer in at a time, so there the
same races check that waiting writers still answer correctly instead of failing.
"""

from __future__ import annotations

import hashlib
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from portal.api import idempotency
from portal.api.models import IdempotencyKey
from portal.db import utcnow
from portal.extensions import db
from portal.leads.models import Lead, LeadEvent, QualificationSettings, ScoringRule
from portal.tenancy import services
from portal.tenancy.scoping import tenant_scope
from tests.conftest import build_tenant, fresh_database, make_app, serving
from tests.factories import ProductFactory

RACERS = 8
PROBLEM = "application/problem+json"


@dataclass(frozen=True)
class LiveApi:
    url: str
    app: Flask
    tenant_id: int
    auth: dict[str, str]


@dataclass(frozen=True)
class Answer:
    status: int
    mimetype: str
    replayed: bool
    body: Any


@pytest.fixture(scope="module")
def live_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    """The API over HTTP on a fresh database, with a tenant, a product and an API key."""
    with fresh_database(tmp_path_factory.mktemp("race-db")) as database_url:
        app = make_app(database_url)
        with app.app_context():
            world = build_tenant("race")
            with tenant_scope(world.id):
                ProductFactory(code="CB", name="Cloud Backup")
                rule = ScoringRule(field="industry", operator="in", values=["Banking"], points=20)
                db.session.add(rule)
                db.session.scalar(sa.select(QualificationSettings)).mql_threshold = 40
                db.session.commit()
                admin = services.get_user(world.admin.id)
                _, secret = services.create_api_key("CRM", actor=admin)
        try:
            with serving(app) as url:
                yield LiveApi(url, app, world.id, {"Authorization": f"Bearer {secret}"})
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


def _lead(name: str, **overrides: Any) -> dict[str, Any]:
    lead = {
        "company_name": name, "company_domain": f"{name.lower()}.example", "industry": "Banking",
        "employees": 1200, "contact_email": f"eva@{name.lower()}.example", "country": "DE",
        "postal_code": "20095", "product": "CB", "currency": "EUR", "deal_size": "48000.50",
    }  # fmt: skip
    lead.update(overrides)
    return lead


def _post(api: LiveApi, path: str, body: Any, headers: dict[str, str] | None = None) -> Answer:
    request = urllib.request.Request(
        api.url + path,
        data=json.dumps(body).encode(),
        headers={**api.auth, "Content-Type": "application/json", **(headers or {})},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return _answer(response)
    except urllib.error.HTTPError as error:
        with error:
            return _answer(error)


def _answer(response: Any) -> Answer:
    mimetype = response.headers.get_content_type()
    raw = response.read()
    body = json.loads(raw) if mimetype.endswith("json") else raw.decode(errors="replace")
    replayed = response.headers.get("Idempotent-Replayed") == "true"
    return Answer(response.status, mimetype, replayed, body)


def _race(requests: list[Callable[[], Answer]]) -> list[Answer]:
    """Run the requests in threads that start together; each one's answer, in order."""
    start = threading.Barrier(len(requests))
    answers: list[Answer | BaseException | None] = [None] * len(requests)

    def run(index: int) -> None:
        try:
            start.wait(timeout=30)
            answers[index] = requests[index]()
        except BaseException as exc:  # reported by the test thread below
            answers[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for answer in answers:
        if not isinstance(answer, Answer):
            raise AssertionError(f"a racing request did not answer: {answer!r}")
    return answers  # type: ignore[return-value]


def _no_server_errors(answers: list[Answer]) -> None:
    failed = [a for a in answers if a.status >= 500]
    assert not failed, failed


def _leads(api: LiveApi, *where: Any) -> list[Lead]:
    with api.app.app_context(), tenant_scope(api.tenant_id):
        return list(db.session.scalars(sa.select(Lead).where(*where).order_by(Lead.id)))


def _event_count(api: LiveApi, lead_ids: Iterable[int]) -> int:
    with api.app.app_context(), tenant_scope(api.tenant_id):
        query = sa.select(sa.func.count(LeadEvent.id)).where(LeadEvent.lead_id.in_(list(lead_ids)))
        return db.session.scalar(query)


def _event_actions(api: LiveApi, lead_id: int) -> list[str]:
    with api.app.app_context(), tenant_scope(api.tenant_id):
        query = sa.select(LeadEvent.action).where(LeadEvent.lead_id == lead_id)
        return list(db.session.scalars(query.order_by(LeadEvent.id)))


def test_racing_posts_of_one_external_id_make_one_lead_and_all_answer_with_it(live_api):
    lead = _lead("Racebank", external_id="crm-race-1")
    answers = _race([lambda: _post(live_api, "/api/v1/leads", lead)] * RACERS)
    _no_server_errors(answers)
    stored = _leads(live_api, Lead.external_id == "crm-race-1")
    assert len(stored) == 1
    assert sorted(a.status for a in answers) == [200] * (RACERS - 1) + [201]
    assert {a.body["id"] for a in answers} == {stored[0].id}
    # Taken in and scored once: the losers neither wrote events nor scored it again.
    assert _event_actions(live_api, stored[0].id) == ["score_below"]


def test_racing_retries_with_one_idempotency_key_make_one_lead(live_api):
    lead = _lead("Keybank")  # no external id: only the key keeps the lead from being doubled
    headers = {"Idempotency-Key": "race-same-body"}
    answers = _race([lambda: _post(live_api, "/api/v1/leads", lead, headers)] * RACERS)
    _no_server_errors(answers)
    stored = _leads(live_api, Lead.company_name == "Keybank")
    assert len(stored) == 1
    first = [a for a in answers if a.status == 201 and not a.replayed]
    assert len(first) == 1 and first[0].body["id"] == stored[0].id
    for answer in answers:
        if answer.replayed:
            assert (answer.status, answer.body) == (201, first[0].body)
        elif answer is not first[0]:
            # The first request was still being answered: the documented "retry soon".
            assert (answer.status, answer.mimetype) == (409, PROBLEM), answer
            assert "still being answered" in answer.body["detail"]
    replay = _post(live_api, "/api/v1/leads", lead, headers)
    assert (replay.status, replay.replayed, replay.body) == (201, True, first[0].body)


def test_racing_retries_after_a_request_died_make_one_lead(live_api):
    lead = _lead("Deadbank")
    body = json.dumps(lead).encode()
    with live_api.app.app_context(), tenant_scope(live_api.tenant_id):
        # The claim of a request that died before answering, long enough ago to be given up.
        died = utcnow() - idempotency.ABANDONED_AFTER - timedelta(seconds=1)
        digest = hashlib.sha256(body).hexdigest()
        db.session.add(IdempotencyKey(key="race-died", request_hash=digest, created_at=died))
        db.session.commit()
    headers = {"Idempotency-Key": "race-died"}
    answers = _race([lambda: _post(live_api, "/api/v1/leads", lead, headers)] * RACERS)
    _no_server_errors(answers)
    stored = _leads(live_api, Lead.company_name == "Deadbank")
    assert len(stored) == 1
    first = [a for a in answers if a.status == 201 and not a.replayed]
    assert len(first) == 1 and first[0].body["id"] == stored[0].id
    others = {(a.status, a.replayed) for a in answers if a is not first[0]}
    assert others <= {(201, True), (409, False)}


def test_racing_posts_of_one_idempotency_key_with_other_bodies_make_one_lead(live_api):
    names = [f"Otherbank{n}" for n in range(RACERS)]
    headers = {"Idempotency-Key": "race-other-bodies"}
    answers = _race(
        [lambda name=name: _post(live_api, "/api/v1/leads", _lead(name), headers) for name in names]
    )
    _no_server_errors(answers)
    stored = _leads(live_api, Lead.company_name.in_(names))
    assert len(stored) == 1
    winners = [a for a in answers if a.status == 201]
    assert len(winners) == 1 and winners[0].body["id"] == stored[0].id
    assert not any(a.replayed for a in answers)
    losers = [a for a in answers if a is not winners[0]]
    assert {(a.status, a.mimetype) for a in losers} == {(409, PROBLEM)}
    assert all("different request body" in a.body["detail"] for a in losers)


def test_racing_batches_that_share_external_ids_take_each_one_in_once(live_api):
    # Overlapping windows of 40 of 110 ids, every other one reversed, so that the batches
    # would insert their shared ids in opposite orders.
    batches = []
    for k in range(RACERS):
        ids = [f"crm-batch-{n}" for n in range(k * 10, k * 10 + 40)]
        if k % 2:
            ids.reverse()
        batches.append([_lead(f"Batchbank{i.rsplit('-', 1)[1]}", external_id=i) for i in ids])
    answers = _race(
        [
            lambda items=items: _post(live_api, "/api/v1/leads/batch", {"items": items})
            for items in batches
        ]
    )
    _no_server_errors(answers)
    assert {a.status for a in answers} == {200}
    stored = _leads(live_api, Lead.external_id.like("crm-batch-%"))
    by_external_id = {lead.external_id: lead.id for lead in stored}
    assert len(stored) == len(by_external_id) == 110
    for items, answer in zip(batches, answers, strict=True):
        answered = [item["lead_id"] for item in answer.body["items"]]
        assert answered == [by_external_id[item["external_id"]] for item in items]
    statuses = [item["status"] for a in answers for item in a.body["items"]]
    assert (statuses.count("created"), statuses.count("existing")) == (110, RACERS * 40 - 110)
    assert _event_count(live_api, by_external_id.values()) == 110  # one event each


def test_single_posts_racing_a_batch_take_each_external_id_in_once(live_api):
    ids = [f"crm-mixed-{n}" for n in range(20)]
    batch = [_lead(f"Mixbank{n}", external_id=i) for n, i in enumerate(ids)]
    singles = batch[::3][: RACERS - 1]
    answers = _race(
        [lambda: _post(live_api, "/api/v1/leads/batch", {"items": batch})]
        + [lambda item=item: _post(live_api, "/api/v1/leads", item) for item in singles]
    )
    _no_server_errors(answers)
    stored = _leads(live_api, Lead.external_id.in_(ids))
    by_external_id = {lead.external_id: lead.id for lead in stored}
    assert len(stored) == len(by_external_id) == 20
    in_batch = answers[0].body["items"]
    assert [item["lead_id"] for item in in_batch] == [by_external_id[i] for i in ids]
    for item, answer in zip(singles, answers[1:], strict=True):
        assert answer.status in (200, 201)
        assert answer.body["id"] == by_external_id[item["external_id"]]
    created = [i for i in in_batch if i["status"] == "created"] + [
        a for a in answers[1:] if a.status == 201
    ]
    assert len(created) == 20
    assert _event_count(live_api, by_external_id.values()) == 20  # one event each
