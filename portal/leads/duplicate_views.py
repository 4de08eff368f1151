"""Pages of the duplicates queue: the open flags, the comparison, merge and keep."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.errors import Conflict, NotFound, ValidationFailed
from portal.leads import duplicates
from portal.leads.forms import KeepDuplicateForm, MergeDuplicateForm
from portal.leads.intake import DUPLICATE_WINDOW
from portal.tenancy.policy import requires
from portal.tenancy.roles import Permission
from portal.web.errors import not_found

bp = Blueprint("duplicates", __name__)


@bp.route("/leads/duplicates/")
@requires(Permission.VIEW_LEADS)
def index() -> Any:
    page, flags = duplicates.open_flags(
        request.args.get("page", 1, type=int) or 1, current_app.config["PAGE_SIZE"]
    )
    return render_template(
        "leads/duplicates.html", page=page, flags=flags, window_days=DUPLICATE_WINDOW.days
    )


def _compare_page(
    lead_id: int,
    merge_form: MergeDuplicateForm | None = None,
    keep_form: KeepDuplicateForm | None = None,
) -> Any:
    try:
        comparison = duplicates.comparison(lead_id)
    except NotFound:
        return not_found()
    merge_form = merge_form or MergeDuplicateForm(formdata=None)
    keep_form = keep_form or KeepDuplicateForm(formdata=None)
    status = 400 if merge_form.errors or merge_form.choice_errors or keep_form.errors else 200
    page = render_template(
        "leads/duplicate_compare.html",
        comparison=comparison,
        flag=comparison.flag,
        merge_form=merge_form,
        keep_form=keep_form,
        posted=request.form if request.method == "POST" else {},
    )
    return page, status


@bp.route("/leads/<int:lead_id>/duplicate")
@requires(Permission.VIEW_LEADS)
def compare(lead_id: int) -> Any:
    return _compare_page(lead_id)


@bp.route("/leads/<int:lead_id>/duplicate/merge", methods=["POST"])
@requires(Permission.MANAGE_LEADS)
def merge(lead_id: int) -> Any:
    form = MergeDuplicateForm()
    if not form.validate_on_submit():
        return _compare_page(lead_id, merge_form=form)
    try:
        survivor = duplicates.merge(
            lead_id, form.into.data, form.chosen_sides(request.form), actor=current_user
        )
    except NotFound:
        return not_found()
    except ValidationFailed as exc:
        form.attach_errors(exc)
        return _compare_page(lead_id, merge_form=form)
    except Conflict as exc:
        flash(str(exc), "danger")
        return redirect(url_for("duplicates.compare", lead_id=lead_id))
    flash(
        f"Lead {lead_id} merged into lead {survivor.id} ({survivor.company_name}), "
        f"now {survivor.state} with {survivor.score} points.",
        "success",
    )
    return redirect(url_for("duplicates.index"))


@bp.route("/leads/<int:lead_id>/duplicate/keep", methods=["POST"])
@requires(Permission.MANAGE_LEADS)
def keep(lead_id: int) -> Any:
    form = KeepDuplicateForm()
    if not form.validate_on_submit():
        return _compare_page(lead_id, keep_form=form)
    try:
        lead = duplicates.keep(lead_id, form.into.data, form.note.data, actor=current_user)
    except NotFound:
        return not_found()
    except ValidationFailed as exc:
        form.attach_errors(exc)
        return _compare_page(lead_id, keep_form=form)
    except Conflict as exc:
        flash(str(exc), "danger")
        return redirect(url_for("duplicates.compare", lead_id=lead_id))
    flash(f"Lead {lead.id} ({lead.company_name}) kept as a lead of its own.", "success")
    return redirect(url_for("duplicates.index"))
