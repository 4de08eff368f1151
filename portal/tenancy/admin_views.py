"""The admin's pages: the tenant's users, API keys, audit trail and data export."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from portal.errors import Conflict, NotFound, ValidationFailed
from portal.partners import services as partner_services
from portal.tenancy import export as tenant_export
from portal.tenancy import services
from portal.tenancy.forms import ApiKeyForm, ConfirmForm, UserForm
from portal.tenancy.policy import requires
from portal.tenancy.roles import Permission
from portal.web.errors import not_found

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _page() -> int:
    return request.args.get("page", 1, type=int) or 1


@bp.route("/users")
@requires(Permission.MANAGE_USERS)
def users() -> Any:
    page = services.users_page(_page(), current_app.config["PAGE_SIZE"])
    return render_template("admin/users.html", page=page, confirm=ConfirmForm())


@bp.route("/users/new", methods=["GET", "POST"])
@requires(Permission.MANAGE_USERS)
def new_user() -> Any:
    form = UserForm()
    form.partner_id.choices = [SelectChoice("", "—")] + [
        SelectChoice(p.id, p.name) for p in partner_services.partner_choices()
    ]
    if form.validate_on_submit():
        try:
            user = services.create_user(
                email=form.email.data,
                name=form.name.data,
                role=form.role.data,
                password=form.password.data,
                partner_id=form.partner_id.data,
                actor=current_user,
            )
        except ValidationFailed as exc:
            form.attach_errors(exc)
        else:
            flash(f"User {user.email} created as {user.role_enum.label.lower()}.", "success")
            return redirect(url_for("admin.users"))
    return render_template("admin/user_form.html", form=form), 400 if form.errors else 200


@bp.route("/users/<int:user_id>/deactivate", methods=["POST"])
@requires(Permission.MANAGE_USERS)
def deactivate_user(user_id: int) -> Any:
    return _set_active(user_id, False)


@bp.route("/users/<int:user_id>/reactivate", methods=["POST"])
@requires(Permission.MANAGE_USERS)
def reactivate_user(user_id: int) -> Any:
    return _set_active(user_id, True)


def _set_active(user_id: int, active: bool) -> Any:
    try:
        user = services.set_user_active(user_id, active, actor=current_user)
    except NotFound:
        return not_found()
    except Conflict as exc:
        flash(str(exc), "danger")
    else:
        flash(
            f"{user.email} is {'active again' if active else 'deactivated and signed out'}.",
            "success",
        )
    return redirect(url_for("admin.users"))


@bp.route("/api-keys", methods=["GET", "POST"])
@requires(Permission.MANAGE_API_KEYS)
def api_keys() -> Any:
    form = ApiKeyForm()
    new_secret = None
    if form.validate_on_submit():
        try:
            key, new_secret = services.create_api_key(form.name.data, actor=current_user)
        except ValidationFailed as exc:
            form.attach_errors(exc)
        else:
            form = ApiKeyForm(formdata=None)
            flash(
                f"API key {key.name!r} created. Copy it now: it will not be shown again.", "success"
            )
    status = 400 if form.errors else 200
    return render_template(
        "admin/api_keys.html",
        form=form,
        keys=services.api_keys(),
        new_secret=new_secret,
        confirm=ConfirmForm(),
    ), status


@bp.route("/api-keys/<int:key_id>/revoke", methods=["POST"])
@requires(Permission.MANAGE_API_KEYS)
def revoke_api_key(key_id: int) -> Any:
    try:
        key = services.revoke_api_key(key_id, actor=current_user)
    except NotFound:
        return not_found()
    except Conflict as exc:
        flash(str(exc), "danger")
    else:
        flash(f"API key {key.name!r} revoked.", "success")
    return redirect(url_for("admin.api_keys"))


@bp.route("/audit")
@requires(Permission.VIEW_AUDIT)
def audit_log() -> Any:
    page = services.audit_page(_page(), current_app.config["PAGE_SIZE"])
    return render_template("admin/audit.html", page=page)


@bp.get("/export")
@requires(Permission.EXPORT_DATA)
def export() -> Any:
    return render_template(
        "admin/export.html",
        files=tenant_export.FILES,
        months=tenant_export.SCORECARD_MONTHS,
        format_version=tenant_export.FORMAT_VERSION,
    )


# A POST, so that no link prefetch or crawler ever reads a whole tenant; CSRF-checked as all are.
@bp.post("/export/download")
@requires(Permission.EXPORT_DATA)
def export_download() -> Any:
    done = tenant_export.export_tenant(actor=current_user)
    response = send_file(
        done.file, mimetype="application/zip", as_attachment=True, download_name=done.filename
    )
    response.content_length = done.size
    response.headers["Cache-Control"] = "no-store"
    return response
