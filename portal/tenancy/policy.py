"""Who may reach what: the one place that decides access and sets the request's tenant.

Every view declares its rule with one of the decorators below. A single before-request
hook reads that rule, so a view never checks a role by hand; a view with no rule is
refused, so forgetting one fails closed. The same hook puts the request in its tenant's
scope, which the session then applies to every query.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask, abort, current_app, g, redirect, request, session, url_for
from flask_login import current_user

from portal.tenancy.roles import Permission
from portal.tenancy.scoping import enter_tenant, leave_tenant

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Rule:
    kind: str  # "public", "user", "permission" or "api_key"
    permission: Permission | None = None
    # The URL argument naming a partner: its own partner's users may open the page too.
    own_partner_arg: str | None = None


def _declare(rule: Rule) -> Callable[[F], F]:
    def mark(view: F) -> F:
        view.access_rule = rule  # type: ignore[attr-defined]
        return view

    return mark


public = _declare(Rule("public"))
signed_in = _declare(Rule("user"))
api_key = _declare(Rule("api_key"))


def requires(permission: Permission, *, or_own_partner: str | None = None) -> Callable[[F], F]:
    """A view for signed-in users whose role grants this permission.

    With or_own_partner="partner_id", a partner user may also open it for their own partner
    (and gets 404 for any other partner, whose existence is none of their business).
    """
    return _declare(Rule("permission", permission, or_own_partner))


def rule_for(endpoint: str | None, app: Flask) -> Rule | None:
    if endpoint is None:
        return None
    if endpoint == "static" or endpoint.endswith(".static"):
        return Rule("public")
    view = app.view_functions.get(endpoint)
    return getattr(view, "access_rule", None)


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def _enforce() -> Any:
    if request.endpoint is None:  # unknown URL or method: routing answers 404 or 405
        if current_user.is_authenticated:
            # The error page is drawn with the user's navigation, which reads their tenant.
            g.tenant_token = enter_tenant(current_user.tenant_id)
        return None
    rule = rule_for(request.endpoint, current_app)
    if rule is None:
        current_app.logger.error("endpoint %s declares no access rule", request.endpoint)
        abort(403)
    if rule.kind == "public":
        return None
    if rule.kind == "api_key":
        return _enter_api_tenant()
    if not current_user.is_authenticated:
        if is_api_request():
            abort(401)
        session["next"] = request.full_path if request.method == "GET" else None
        return redirect(url_for("auth.login"))
    g.tenant_token = enter_tenant(current_user.tenant_id)
    if rule.kind == "permission" and not current_user.can(rule.permission):
        _refuse(rule)
    return None


def _refuse(rule: Rule) -> None:
    if rule.own_partner_arg and current_user.partner_id is not None:
        asked = (request.view_args or {}).get(rule.own_partner_arg)
        if asked == current_user.partner_id:
            return
        abort(404)
    abort(403)


def _enter_api_tenant() -> None:
    from portal.tenancy.services import api_key_for

    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        abort(401, "Send your API key as 'Authorization: Bearer <key>'.")
    key = api_key_for(secret.strip())
    if key is None:
        abort(401, "This API key is unknown or has been revoked.")
    g.api_key = key
    g.tenant_token = enter_tenant(key.tenant_id)


def _leave(exc: BaseException | None) -> None:
    token = g.pop("tenant_token", None)
    if token is not None:
        leave_tenant(token)


def init_app(app: Flask) -> None:
    app.before_request(_enforce)
    app.teardown_request(_leave)
