"""Webhook endpoints of the tenant, and sending their deliveries, signed, with retries.

A delivery is one POST with a timeout; whatever the endpoint does (hangs, answers 500, is
unreachable) is written on the delivery and retried later, so nothing else waits for it.
"""

from __future__ import annotations

import json
import logging
import secrets
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app

from portal import audit
from portal.db import utcnow
from portal.errors import NotFound, ValidationFailed
from portal.extensions import db
from portal.notifications import outbox, rules
from portal.notifications.models import WebhookDelivery, WebhookEndpoint

log = logging.getLogger(__name__)

URL_MAX = 500
BODY_READ_MAX = 4096
USER_AGENT = "PartnerPortal-Webhooks/1"


# Endpoints ----------------------------------------------------------------------------------


def endpoints() -> list[WebhookEndpoint]:
    """The tenant's endpoints, newest first."""
    return list(db.session.scalars(sa.select(WebhookEndpoint).order_by(WebhookEndpoint.id.desc())))


def get_endpoint(endpoint_id: int) -> WebhookEndpoint:
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise NotFound("no such webhook endpoint")
    return endpoint


def check_url(raw: str | None) -> str:
    """A URL webhooks can be sent to: http(s), with a host name that resolves."""
    url = (raw or "").strip()
    if not url:
        raise ValidationFailed({"url": "Give the URL that should receive the events."})
    if len(url) > URL_MAX:
        raise ValidationFailed({"url": f"Keep the URL to {URL_MAX} characters."})
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationFailed({"url": "Give an http:// or https:// URL with a host name."})
    try:
        port = parts.port
        socket.getaddrinfo(parts.hostname, port or 443, proto=socket.IPPROTO_TCP)
    except ValueError:
        raise ValidationFailed({"url": "The port of this URL is not a valid number."}) from None
    except (OSError, UnicodeError):
        raise ValidationFailed(
            {"url": f"The host {parts.hostname!r} cannot be found; check the URL."}
        ) from None
    return url


def check_events(chosen: Iterable[str] | None) -> list[str]:
    events = [e for e in rules.WEBHOOK_EVENTS if e in set(chosen or ())]
    unknown = set(chosen or ()) - set(rules.WEBHOOK_EVENTS)
    if unknown or not events:
        raise ValidationFailed({"events": "Tick at least one of the listed events."})
    return events


def create_endpoint(
    url: str | None, events: Iterable[str] | None, *, actor: Any
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint with a new secret; returns it with the secret, shown this once."""
    errors: dict[str, str] = {}
    checked: dict[str, Any] = {}
    for name, check, value in (("url", check_url, url), ("events", check_events, events)):
        try:
            checked[name] = check(value)  # type: ignore[operator]
        except ValidationFailed as exc:
            errors.update(exc.errors)
    if errors:
        raise ValidationFailed(errors)
    secret = "whsec_" + secrets.token_urlsafe(32)
    endpoint = WebhookEndpoint(
        url=checked["url"], events=checked["events"], secret=secret, active=True,
        created_by_id=getattr(actor, "id", None),
    )  # fmt: skip
    db.session.add(endpoint)
    db.session.flush()
    audit.record(
        db.session, actor=actor, action="webhook.created", obj=endpoint,
        changes={"url": endpoint.url, "events": endpoint.events},
    )  # fmt: skip
    db.session.commit()
    return endpoint, secret


def update_endpoint(
    endpoint_id: int, url: str | None, events: Iterable[str] | None, active: bool, *, actor: Any
) -> WebhookEndpoint:
    """Change an endpoint's URL, events or active flag; its secret stays."""
    endpoint = get_endpoint(endpoint_id)
    errors: dict[str, str] = {}
    new: dict[str, Any] = {}
    for name, check, value in (("url", check_url, url), ("events", check_events, events)):
        try:
            new[name] = check(value)  # type: ignore[operator]
        except ValidationFailed as exc:
            errors.update(exc.errors)
    if errors:
        raise ValidationFailed(errors)
    changes = {
        k: [getattr(endpoint, k), v]
        for k, v in (*new.items(), ("active", bool(active)))
        if getattr(endpoint, k) != v
    }
    endpoint.url, endpoint.events, endpoint.active = new["url"], new["events"], bool(active)
    audit.record(db.session, actor=actor, action="webhook.changed", obj=endpoint, changes=changes)
    db.session.commit()
    return endpoint


# Deliveries ---------------------------------------------------------------------------------


def deliveries_page(endpoint_id: int, page: int, per_page: int) -> Any:
    """The endpoint's deliveries, newest first."""
    get_endpoint(endpoint_id)
    query = (
        sa.select(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint_id)
        .order_by(WebhookDelivery.id.desc())
    )
    return db.paginate(query, page=page, per_page=per_page, error_out=False)


def get_delivery(endpoint_id: int, delivery_id: int) -> WebhookDelivery:
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.endpoint_id != endpoint_id:
        raise NotFound("no such delivery")
    return delivery


def send_again(endpoint_id: int, delivery_id: int, *, actor: Any) -> WebhookDelivery:
    """Queue a new delivery of the same payload; the old one stays in the log as it was."""
    old = get_delivery(endpoint_id, delivery_id)
    return _new_delivery(old.endpoint, old.event_type, dict(old.payload), resend_of_id=old.id)


def send_test(endpoint_id: int, *, actor: Any) -> WebhookDelivery:
    """Queue a test event to the endpoint, so its owner can check the signature."""
    endpoint = get_endpoint(endpoint_id)
    body = {
        "event": rules.TEST_EVENT,
        "endpoint_id": endpoint.id,
        "occurred_at": utcnow().isoformat(),
        "requested_by": getattr(actor, "email", None),
    }
    return _new_delivery(endpoint, rules.TEST_EVENT, body)


def _new_delivery(
    endpoint: WebhookEndpoint, event_type: str, body: dict[str, Any], **extra: Any
) -> WebhookDelivery:
    delivery = WebhookDelivery(
        endpoint_id=endpoint.id, event_type=event_type, payload=body, state="pending",
        attempts=0, next_attempt_at=utcnow(), **extra,
    )  # fmt: skip
    db.session.add(delivery)
    db.session.commit()
    return delivery


# Sending ------------------------------------------------------------------------------------


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer like any other: the delivery records it and does not follow."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def encode(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def signed_headers(secret: str, body: bytes, event_type: str, delivery_id: int) -> dict[str, str]:
    timestamp = str(int(time.time()))
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Portal-Event": event_type,
        "X-Portal-Delivery": str(delivery_id),
        "X-Portal-Timestamp": timestamp,
        "X-Portal-Signature": rules.signature(secret, timestamp, body),
    }


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST the body; the status of a 2xx answer, else an exception that says what went wrong."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with _OPENER.open(request, timeout=timeout) as response:
        response.read(BODY_READ_MAX)
        return response.status


def deliver(delivery_id: int) -> bool:
    """Make one attempt at a delivery if it is due; whether the endpoint took it."""
    config = current_app.config
    timeout = config["WEBHOOK_TIMEOUT_SECONDS"]
    now = utcnow()
    delivery = outbox.claim(WebhookDelivery, delivery_id, now, timedelta(seconds=timeout + 60))
    if delivery is None:
        return False
    endpoint = delivery.endpoint
    if not endpoint.active:
        delivery.state, delivery.error = "failed", "The endpoint was deactivated; not sent."
        db.session.commit()
        return False
    body = encode(delivery.payload)
    headers = signed_headers(endpoint.secret, body, delivery.event_type, delivery.id)
    started = time.monotonic()
    status, error = _attempt(endpoint.url, body, headers, timeout)
    delivery.duration_ms = int((time.monotonic() - started) * 1000)
    delivery.last_attempt_at, delivery.response_status = now, status
    if error is None:
        delivery.state, delivery.error = "sent", None
        db.session.commit()
        return True
    log.info("webhook delivery %s to %s failed: %s", delivery.id, endpoint.url, error)
    outbox.record_failure(
        delivery, error, now, config["WEBHOOK_MAX_ATTEMPTS"], field="error"
    )  # fmt: skip
    return False


def _attempt(
    url: str, body: bytes, headers: dict[str, str], timeout: float
) -> tuple[int | None, str | None]:
    """(status, error): error is None when the endpoint answered 2xx."""
    try:
        return post(url, body, headers, timeout), None
    except urllib.error.HTTPError as exc:
        return exc.code, f"The endpoint answered {exc.code} {exc.reason}."
    except TimeoutError:
        return None, f"No answer within {timeout:g} s."
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError | socket.timeout):
            return None, f"No answer within {timeout:g} s."
        return None, f"Could not reach the endpoint: {reason}."
    except (OSError, ValueError) as exc:
        return None, f"Could not reach the endpoint: {exc}."


def send_due() -> int:
    """Attempt every delivery of the tenant that is due; how many were attempted."""
    return outbox.each_due(WebhookDelivery, deliver)
