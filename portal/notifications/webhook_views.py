"""The admin's webhook pages: endpoints, their delivery log, send again, send a test."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.errors import NotFound, ValidationFailed
from portal.extensions import queue
from portal.notifications import webhooks
from portal.notifications.forms import WebhookForm
from portal.notifications.models import WebhookDelivery
from portal.notifications.tasks import deliver_webhook
from portal.tenancy.forms import ConfirmForm
from portal.tenancy.policy import requires
from portal.tenancy.roles import Permission
from portal.web.errors import not_found

bp = Blueprint("webhooks", __name__, url_prefix="/admin/webhooks")


@bp.route("/", methods=["GET", "POST"])
@requires(Permission.MANAGE_WEBHOOKS)
def index() -> Any:
    form = WebhookForm()
    new_secret = None
    if form.validate_on_submit():
        try:
            endpoint, new_secret = webhooks.create_endpoint(
                form.url.data, form.events.data, actor=current_user
            )
        except ValidationFailed as exc:
            form.attach_errors(exc)
        else:
            form = WebhookForm(formdata=None)
            flash(
                f"Endpoint {endpoint.url} added. Copy its secret now: it will not be shown again.",
                "success",
            )
    return render_template(
        "webhooks/index.html", form=form, endpoints=webhooks.endpoints(), new_secret=new_secret
    ), 400 if form.errors else 200


@bp.route("/<int:endpoint_id>/edit", methods=["GET", "POST"])
@requires(Permission.MANAGE_WEBHOOKS)
def edit(endpoint_id: int) -> Any:
    try:
        endpoint = webhooks.get_endpoint(endpoint_id)
    except NotFound:
        return not_found()
    form = WebhookForm(obj=endpoint)
    if form.validate_on_submit():
        try:
            webhooks.update_endpoint(
                endpoint_id, form.url.data, form.events.data, form.active.data, actor=current_user
            )
        except ValidationFailed as exc:
            form.attach_errors(exc)
        else:
            flash("Endpoint saved.", "success")
            return redirect(url_for("webhooks.deliveries", endpoint_id=endpoint_id))
    return render_template(
        "webhooks/form.html", form=form, endpoint=endpoint
    ), 400 if form.errors else 200


@bp.route("/<int:endpoint_id>/deliveries")
@requires(Permission.MANAGE_WEBHOOKS)
def deliveries(endpoint_id: int) -> Any:
    page = request.args.get("page", 1, type=int) or 1
    try:
        endpoint = webhooks.get_endpoint(endpoint_id)
        log = webhooks.deliveries_page(endpoint_id, page, current_app.config["PAGE_SIZE"])
    except NotFound:
        return not_found()
    return render_template(
        "webhooks/deliveries.html", endpoint=endpoint, page=log, confirm=ConfirmForm()
    )


@bp.route("/<int:endpoint_id>/test", methods=["POST"])
@requires(Permission.MANAGE_WEBHOOKS)
def send_test(endpoint_id: int) -> Any:
    try:
        delivery = webhooks.send_test(endpoint_id, actor=current_user)
    except NotFound:
        return not_found()
    return _queued(delivery, "Test event queued.")


@bp.route("/<int:endpoint_id>/deliveries/<int:delivery_id>/again", methods=["POST"])
@requires(Permission.MANAGE_WEBHOOKS)
def send_again(endpoint_id: int, delivery_id: int) -> Any:
    try:
        delivery = webhooks.send_again(endpoint_id, delivery_id, actor=current_user)
    except NotFound:
        return not_found()
    return _queued(delivery, f"Delivery {delivery_id} queued again as {{id}}.")


def _queued(delivery: WebhookDelivery, message: str) -> Any:
    try:
        queue.enqueue(deliver_webhook, delivery.tenant_id, delivery.id)
    except Exception:
        current_app.logger.exception("could not queue delivery %s", delivery.id)
    flash(message.replace("{id}", str(delivery.id)) + " See its outcome below.", "success")
    return redirect(url_for("webhooks.deliveries", endpoint_id=delivery.endpoint_id))
