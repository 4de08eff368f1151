"""Login, tenant choice, logout and the user's own password."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user
from wtforms.fields.choices import SelectChoice

from portal.errors import ValidationFailed
from portal.extensions import limiter, login_manager
from portal.tenancy import services
from portal.tenancy.forms import ChangePasswordForm, ChooseTenantForm, LoginForm
from portal.tenancy.models import User
from portal.tenancy.policy import public, signed_in
from portal.web import kept_logins

bp = Blueprint("auth", __name__)

PENDING_LOGIN_SECONDS = 300
BAD_CREDENTIALS = "Invalid e-mail or password."
TOO_MANY = "Too many attempts to sign in. Wait a minute before you try again."


LOGIN_EXTRAS = "portal_login_extras"


def read_with_login(app: Flask, name: str, column: Callable[[Any], Any]) -> None:
    """Have every request's login query also read column(user id column), as login_extra(name):
    what every page shows of its user (a count in the navigation) costs no query of its own."""
    app.extensions.setdefault(LOGIN_EXTRAS, {})[name] = column


def login_extra(name: str) -> Any:
    """What the login query read under name this request; None if it read none."""
    return g.get("login_extras", {}).get(name)


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    token, tenant_id = session.get("auth_token"), session.get("tenant_id")
    kept = kept_logins.recall(user_id, token, tenant_id)
    found = kept.found if kept else None
    if found is None:
        also = current_app.extensions.get(LOGIN_EXTRAS)
        found = services.session_user(user_id, token, tenant_id, also=also)
        if found is not None and kept is not None:
            kept_logins.keep(kept, found)
    if found is None:
        return None
    g.auth_session_id = found.auth.id
    g.login_extras = found.extras
    g.login_ends_at = found.ends_at
    return found.user


def _login_failed(response: Any) -> bool:
    return bool(g.get("login_failed"))


def _email_key() -> str:
    return "login-email:" + (request.form.get("email") or "").strip().lower()[:254]


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target.rstrip("?")
    return url_for("web.home")


def _sign_in(user: User) -> Any:
    """Renew the session, open a login, and go where the user was heading."""
    target = session.get("next")
    session.clear()
    token, _ = services.start_session(
        user, ip=request.remote_addr, user_agent=request.user_agent.string
    )
    session["auth_token"] = token
    session["tenant_id"] = user.tenant_id
    session.permanent = True
    login_user(user)
    flash(f"Signed in to {user.tenant.name}.", "success")
    return redirect(_safe_next(target))


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(_login_limit, methods=["POST"], deduct_when=_login_failed, error_message=TOO_MANY)
@limiter.limit(
    _login_limit,
    methods=["POST"],
    deduct_when=_login_failed,
    key_func=_email_key,
    error_message=TOO_MANY,
)
def login() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("web.home"))
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form), 400 if form.errors else 200
    attempt = services.authenticate(form.email.data, form.password.data)
    if not attempt.succeeded:
        g.login_failed = True
        message = (
            "This account has been deactivated. Ask your administrator to reactivate it."
            if attempt.deactivated
            else BAD_CREDENTIALS
        )
        return render_template("auth/login.html", form=form, error=message), 401
    if len(attempt.accounts) == 1:
        return _sign_in(attempt.accounts[0])
    session["pending_login"] = {"ids": [u.id for u in attempt.accounts], "at": time.time()}
    return redirect(url_for("auth.choose_tenant"))


def _pending_ids() -> list[int]:
    pending = session.get("pending_login") or {}
    if time.time() - pending.get("at", 0) > PENDING_LOGIN_SECONDS:
        return []
    return list(pending.get("ids", []))


@bp.route("/login/choose", methods=["GET", "POST"])
@public
def choose_tenant() -> Any:
    accounts = services.accounts_by_ids(_pending_ids())
    if not accounts:
        session.pop("pending_login", None)
        flash("Please sign in again.", "warning")
        return redirect(url_for("auth.login"))
    form = ChooseTenantForm()
    form.account.choices = [SelectChoice(u.id, u.tenant.name) for u in accounts]
    if form.validate_on_submit():
        chosen = next(u for u in accounts if u.id == form.account.data)
        return _sign_in(chosen)
    return render_template("auth/choose_tenant.html", form=form), 400 if form.errors else 200


@bp.route("/logout", methods=["POST"])
@public
def logout() -> Any:
    services.end_session(session.get("auth_token"), session.get("tenant_id"))
    logout_user()
    session.clear()
    flash("You have been signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@signed_in
def change_password() -> Any:
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            services.change_password(
                current_user,
                form.current_password.data,
                form.new_password.data,
                keep_session_id=g.get("auth_session_id"),
            )
        except ValidationFailed as exc:
            form.attach_errors(exc)
        else:
            flash(
                "Your password has been changed. Your other sessions have been signed out.",
                "success",
            )
            return redirect(url_for("web.home"))
    return render_template("auth/change_password.html", form=form), 400 if form.errors else 200
