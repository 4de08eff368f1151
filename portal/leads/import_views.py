"""Pages of lead CSV imports: upload, map the columns, follow the dry run and the import."""

from __future__ import annotations

import re
from typing import Any

from flask import (
    Blueprint,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice

from portal import csvtext
from portal.errors import Conflict, NotFound, ValidationFailed
from portal.forms import PortalForm
from portal.leads import csv_import, csv_rows
from portal.leads.models import LeadImport
from portal.tenancy.forms import ConfirmForm
from portal.tenancy.policy import requires
from portal.tenancy.roles import Permission
from portal.web.downloads import csv_download
from portal.web.errors import not_found
from portal.web.security import large_upload

bp = Blueprint("lead_imports", __name__, url_prefix="/leads/imports")
PROBLEMS_PER_PAGE = 50


class UploadForm(PortalForm):
    file = FileField("CSV file", validators=[FileRequired("Choose a CSV file to upload.")])
    encoding = SelectField(
        "Encoding",
        choices=[SelectChoice(code, label) for code, label in csvtext.ENCODINGS.items()],
        default="utf-8",
    )


def mapping_form(upload: LeadImport) -> PortalForm:
    """One choice per column of the file: the lead field it fills, or none."""
    choices = [SelectChoice("", "— leave out —")] + [
        SelectChoice(f.name, f.label) for f in csv_rows.FIELDS
    ]

    class MappingForm(PortalForm):
        pass

    for position, (column, field) in enumerate(zip(upload.header, upload.mapping, strict=True)):
        select = SelectField(
            column or f"Column {position + 1}", choices=choices, default=field or ""
        )
        setattr(MappingForm, f"column-{position}", select)
    return MappingForm()


def _columns(form: PortalForm, count: int) -> list[Any]:
    return [form[f"column-{position}"] for position in range(count)]


@bp.route("/", methods=["GET", "POST"])
@requires(Permission.MANAGE_LEADS)
@large_upload
def upload() -> Any:
    form = UploadForm()
    if form.validate_on_submit():
        storage = form.file.data
        try:
            staged = csv_import.stage(
                storage.filename, storage.read(), form.encoding.data, actor=current_user
            )
        except ValidationFailed as exc:
            form.attach_errors(exc)
        else:
            return redirect(url_for("lead_imports.mapping", import_id=staged.id))
    return render_template(
        "leads/import_upload.html",
        form=form,
        fields=csv_rows.FIELDS,
        recent=csv_import.recent_imports(),
        max_lines=csv_rows.MAX_LINES,
    ), 400 if form.errors else 200


@bp.route("/<int:import_id>/columns", methods=["GET", "POST"])
@requires(Permission.MANAGE_LEADS)
def mapping(import_id: int) -> Any:
    try:
        staged = csv_import.get_import(import_id)
    except NotFound:
        return not_found()
    if not csv_import.mapping_open(staged):
        flash("The import has begun, so its columns can no longer change.", "warning")
        return redirect(url_for("lead_imports.status", import_id=import_id))
    form = mapping_form(staged)
    columns = _columns(form, len(staged.header))
    if form.validate_on_submit():
        try:
            csv_import.check(import_id, [c.data or None for c in columns], actor=current_user)
        except ValidationFailed as exc:
            form.attach_errors(exc)
        except Conflict as exc:
            flash(str(exc), "danger")
            return redirect(url_for("lead_imports.status", import_id=import_id))
        else:
            return redirect(url_for("lead_imports.status", import_id=import_id))
    return render_template(
        "leads/import_mapping.html",
        staged=staged,
        form=form,
        columns=list(zip(columns, csv_import.samples(staged), strict=True)),
    ), 400 if form.errors else 200


@bp.route("/<int:import_id>")
@requires(Permission.MANAGE_LEADS)
def status(import_id: int) -> Any:
    try:
        staged = csv_import.get_import(import_id)
    except NotFound:
        return not_found()
    problems = csv_import.problems_page(
        staged, request.args.get("page", 1, type=int) or 1, PROBLEMS_PER_PAGE
    )
    return render_template(
        "leads/import_status.html",
        staged=staged,
        progress=csv_import.progress(staged),
        stalled=csv_import.stalled(staged),
        problems=problems,
        labels=csv_rows.LABELS,
        confirm=ConfirmForm(),
    )


@bp.route("/<int:import_id>/progress")
@requires(Permission.MANAGE_LEADS)
def progress(import_id: int) -> Any:
    try:
        staged = csv_import.get_import(import_id)
    except NotFound:
        return jsonify(error="no such import"), 404
    return jsonify(csv_import.progress(staged))


@bp.route("/<int:import_id>/import", methods=["POST"])
@requires(Permission.MANAGE_LEADS)
def start(import_id: int) -> Any:
    try:
        csv_import.start(import_id, actor=current_user)
    except NotFound:
        return not_found()
    except Conflict as exc:
        flash(str(exc), "danger")
    return redirect(url_for("lead_imports.status", import_id=import_id))


@bp.route("/<int:import_id>/resume", methods=["POST"])
@requires(Permission.MANAGE_LEADS)
def resume(import_id: int) -> Any:
    try:
        csv_import.resume(import_id, actor=current_user)
    except NotFound:
        return not_found()
    except Conflict as exc:
        flash(str(exc), "danger")
    return redirect(url_for("lead_imports.status", import_id=import_id))


@bp.route("/<int:import_id>/rejected.csv")
@requires(Permission.MANAGE_LEADS)
def rejected(import_id: int) -> Any:
    try:
        staged = csv_import.get_import(import_id)
    except NotFound:
        return not_found()
    lines = csv_import.rejected_lines_csv(staged)
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", staged.filename.rsplit(".", 1)[0]) or "leads"
    return csv_download(stream_with_context(lines), f"{stem}-rejected.csv")
