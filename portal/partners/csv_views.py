"""Pages of partner CSV files: export, upload with a dry run, and the import itself."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf.file import FileField, FileRequired

from portal.csvtext import FileProblem
from portal.db import utcnow
from portal.errors import Conflict, NotFound, ValidationFailed
from portal.forms import PortalForm
from portal.partners import csv_plan, csv_services
from portal.tenancy.forms import ConfirmForm
from portal.tenancy.policy import requires
from portal.tenancy.roles import Permission
from portal.web.downloads import csv_download
from portal.web.errors import not_found

bp = Blueprint("partner_io", __name__, url_prefix="/partners")


class UploadForm(PortalForm):
    file = FileField("CSV file", validators=[FileRequired("Choose a CSV file to upload.")])


@bp.route("/export.csv")
@requires(Permission.VIEW_NETWORK)
def export() -> Any:
    filename = f"partners-{current_user.tenant.slug}-{utcnow():%Y-%m-%d}.csv"
    return csv_download(csv_services.export_csv(), filename)


@bp.route("/import", methods=["GET", "POST"])
@requires(Permission.MANAGE_NETWORK)
def upload() -> Any:
    form = UploadForm()
    if form.validate_on_submit():
        storage = form.file.data
        try:
            staged, _ = csv_services.stage_import(
                storage.filename, storage.read(), actor=current_user
            )
        except ValidationFailed as exc:
            form.attach_errors(exc)
        else:
            return redirect(url_for("partner_io.review", import_id=staged.id))
    return render_template(
        "partners/import_upload.html",
        form=form,
        columns=csv_plan.COLUMNS,
        recent=csv_services.recent_imports(),
    ), 400 if form.errors else 200


@bp.route("/import/<int:import_id>")
@requires(Permission.MANAGE_NETWORK)
def review(import_id: int) -> Any:
    try:
        staged, plan = csv_services.dry_run(import_id)
    except NotFound:
        return not_found()
    except FileProblem as exc:  # the catalogue changed since upload in a way that breaks it
        flash(str(exc), "danger")
        return redirect(url_for("partner_io.upload"))
    return render_template(
        "partners/import_review.html", staged=staged, plan=plan, confirm=ConfirmForm()
    )


@bp.route("/import/<int:import_id>/apply", methods=["POST"])
@requires(Permission.MANAGE_NETWORK)
def apply(import_id: int) -> Any:
    try:
        summary = csv_services.apply_import(import_id, actor=current_user)
    except NotFound:
        return not_found()
    except Conflict as exc:
        flash(str(exc), "danger")
        return redirect(url_for("partner_io.review", import_id=import_id))
    flash(
        f"Imported: {summary['create']} partners created, {summary['update']} changed, "
        f"{summary['unchanged']} unchanged.",
        "success",
    )
    return redirect(url_for("partners.index"))
