"""Home, health and the template helpers every page uses."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, current_app, render_template
from flask_login import current_user

from portal.leads import duplicates
from portal.leads import services as lead_services
from portal.leads.lifecycle import LeadState
from portal.partners import services as partner_services
from portal.tenancy.policy import public, requires, signed_in
from portal.tenancy.roles import Permission
from portal.web import health as health_checks
from portal.web import navigation
from portal.web.timefmt import local_time

bp = Blueprint("web", __name__)


@bp.route("/")
@signed_in
def home() -> Any:
    figures: dict[str, Any] = {}
    if current_user.can(Permission.VIEW_LEADS):
        counts = figures["lead_counts"] = lead_services.lead_counts_by_state()
        figures["partner_count"] = partner_services.partner_count()
        # What waits on the vendor side's people rather than on a partner.
        figures["unroutable"] = counts[LeadState.UNROUTABLE.value]
        figures["open_duplicates"] = duplicates.open_flag_count()
    if current_user.can(Permission.WORK_INBOX):
        figures["open_offers"] = lead_services.open_offer_count(current_user.partner_id)
    return render_template("home.html", figures=figures)


@bp.route("/network/")
@requires(Permission.VIEW_NETWORK)
def network() -> Any:
    return render_template("network.html", sections=navigation.NETWORK_SECTIONS)


@bp.route("/help/api")
@signed_in
def api_reference() -> Any:
    from portal.api.reference import operations

    return render_template("api_reference.html", operations=operations(current_app.spec))


@bp.route("/healthz")
@public
def health() -> Any:
    """Whether the database and the job queue's Redis answer."""
    answer = health_checks.report()
    return answer, 200 if answer["status"] == "ok" else 503


@bp.route("/livez")
@public
def liveness() -> Any:
    """Whether this process answers requests at all. It asks neither the database nor Redis,
    so a liveness probe on it does not restart every web process when one of those restarts."""
    return "ok", 200, {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"}


def init_app(app: Flask) -> None:
    @app.context_processor
    def _inject() -> dict[str, Any]:
        return {"nav_bar": navigation.bar_for(current_user), "Permission": Permission}

    app.add_template_filter(local_time, "local_time")
