"""The user's notifications page, and the unread count in the navigation bar."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.errors import NotFound
from portal.notifications import services
from portal.tenancy.forms import ConfirmForm
from portal.tenancy.policy import signed_in
from portal.tenancy.scoping import tenant_scope
from portal.tenancy.views import login_extra, read_with_login
from portal.web.errors import not_found

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


@bp.route("/")
@signed_in
def index() -> Any:
    page = request.args.get("page", 1, type=int) or 1
    notes = services.page_for(current_user.id, page, current_app.config["PAGE_SIZE"])
    return render_template("notifications/index.html", page=notes, confirm=ConfirmForm())


@bp.route("/<int:notification_id>/read", methods=["POST"])
@signed_in
def read(notification_id: int) -> Any:
    try:
        note = services.mark_read(current_user.id, notification_id)
    except NotFound:
        return not_found()
    if request.form.get("open") and note.link:
        return redirect(note.link)
    return redirect(url_for("notifications.index"))


@bp.route("/read-all", methods=["POST"])
@signed_in
def read_all() -> Any:
    count = services.mark_all_read(current_user.id)
    flash(f"{count} notification{'s' if count != 1 else ''} marked read.", "success")
    return redirect(url_for("notifications.index"))


UNREAD = "unread_notifications"


def _unread() -> int | None:
    """The signed-in user's unread count for the navigation bar; None for anyone else."""
    if not current_user.is_authenticated:
        return None
    read = login_extra(UNREAD)
    if read is not None:
        return read
    with tenant_scope(current_user.tenant_id):
        return services.unread_count(current_user.id)


def init_app(app: Flask) -> None:
    app.jinja_env.globals["unread_notifications"] = _unread
    read_with_login(app, UNREAD, services.unread_count_of)
