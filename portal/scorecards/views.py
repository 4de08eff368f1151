"""Scorecard pages: the ranking of all partners, and one partner's scorecard over time."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.db import utcnow
from portal.errors import NotFound, ValidationFailed
from portal.money import format_money
from portal.scorecards import feedback, services
from portal.scorecards.forms import ScorecardSettingsForm
from portal.scorecards.periods import BadPeriod, Period, month_of, parse
from portal.scorecards.velocity import STAGES
from portal.tenancy.policy import requires
from portal.tenancy.roles import Permission
from portal.web.downloads import csv_download
from portal.web.errors import not_found

bp = Blueprint("scorecards", __name__, url_prefix="/scorecards")
PER_PAGE = 50


def _period() -> tuple[Period, str | None]:
    """The period the page asks for, or this month and why the asked one was refused."""
    try:
        return parse(request.args.get("period"), utcnow().date()), None
    except BadPeriod as exc:
        return month_of(utcnow().date()), str(exc)


@bp.get("/")
@requires(Permission.VIEW_SCORECARDS)
def index() -> Any:
    period, period_error = _period()
    tier_id = request.args.get("tier", type=int)
    country = (request.args.get("country") or "").strip().upper() or None
    product_id = request.args.get("product", type=int)
    sort = request.args.get("sort", "quality")
    if sort not in services.SORTS:
        sort = "quality"
    found = services.cards(period, tier_id=tier_id, country=country, product_id=product_id)
    rows = services.ranking(found, sort)
    products = services.product_choices()
    return render_template(
        "scorecards/index.html",
        rows=rows,
        period=period,
        period_error=period_error,
        sort=sort,
        tier_id=tier_id,
        country=country,
        product_id=product_id,
        product=dict(products).get(product_id) if product_id is not None else None,
        tiers=services.tier_choices(),
        countries=services.countries(),
        products=products,
    )


@bp.get("/partners/<int:partner_id>")
@requires(Permission.VIEW_SCORECARDS, or_own_partner="partner_id")
def partner(partner_id: int) -> Any:
    period, period_error = _period()
    try:
        row = services.partner_card(partner_id, period)
    except NotFound:
        return not_found()
    trend = services.trend(row, period)
    return render_template(
        "scorecards/partner.html",
        row=row,
        period=period,
        period_error=period_error,
        trend=trend,
        charts=_charts(row.card, trend),
        money=format_money,
    )


def _percent(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)


def _charts(card: Any, trend: list[services.Trend]) -> dict[str, Any]:
    """What the page's charts draw (static/js/scorecard_charts.js), as JSON-ready values."""
    return {
        "trend": {
            "labels": [t.period.label for t in trend],
            "acceptance": [_percent(t.card.acceptance_rate) for t in trend],
            "sla": [_percent(t.card.sla_compliance) for t in trend],
            "quality": [t.card.quality for t in trend],
            "tier_quality": [t.tier_median_quality for t in trend],
        },
        "funnel": {
            "labels": ["Offered", "Accepted (SAL)", "SQL", "Won"],
            "values": [card.offered, card.accepted, card.reached_sql, card.won],
        },
        "reasons": {
            "labels": list(card.rejected_by_reason),
            "values": list(card.rejected_by_reason.values()),
        },
        "response": {
            "labels": list(card.response_buckets),
            "values": list(card.response_buckets.values()),
        },
    }


@bp.get("/partners/<int:partner_id>/offers")
@requires(Permission.VIEW_SCORECARDS, or_own_partner="partner_id")
def offers(partner_id: int) -> Any:
    period, period_error = _period()
    outcome = request.args.get("outcome", "offered")
    reason = (request.args.get("reason") or "").strip() or None
    try:
        row = services.partner_card(partner_id, period)
        page = services.offers_behind(
            partner_id, period, outcome, reason, request.args.get("page", 1, type=int), PER_PAGE
        )
    except NotFound:
        return not_found()
    return render_template(
        "scorecards/offers.html",
        row=row,
        period=period,
        period_error=period_error,
        outcome=outcome,
        outcome_label=services.OUTCOMES[outcome],
        reason=reason,
        page=page,
    )


def _group(choices: object, default: str) -> str:
    by = request.args.get("by", default)
    return by if by in choices else default  # type: ignore[operator]


@bp.get("/feedback")
@requires(Permission.VIEW_SCORECARDS)
def feedback_page() -> Any:
    period, period_error = _period()
    by = _group(feedback.GROUPS, "source")
    conversion_by = by if by in feedback.CONVERSION_GROUPS else "source"
    rejected, reasons = feedback.rejections(period, by)
    return render_template(
        "scorecards/feedback.html",
        period=period,
        period_error=period_error,
        by=by,
        conversion_by=conversion_by,
        groups=feedback.GROUPS,
        rejected=rejected,
        reasons=reasons,
        converted=feedback.conversion(period, conversion_by),
    )


def _csv(text: str, name: str, period: Period) -> Response:
    return csv_download(text, f"{name}-{current_user.tenant.slug}-{period.key}.csv")


# Each table of the feedback page as CSV: what it can be grouped by, and how it is written.
FEEDBACK_CSV = {
    "rejections": (feedback.GROUPS, feedback.rejections_csv, "rejections-by-{by}"),
    "conversion": (feedback.CONVERSION_GROUPS, feedback.conversion_csv, "mql-to-sal-by-{by}"),
}


@bp.get("/feedback/<any(rejections, conversion):table>.csv")
@requires(Permission.VIEW_SCORECARDS)
def feedback_csv(table: str) -> Any:
    period, _ = _period()
    groups, write, name = FEEDBACK_CSV[table]
    by = _group(groups, "source")
    return _csv(write(period, by), name.format(by=by), period)


@bp.get("/velocity")
@requires(Permission.VIEW_SCORECARDS)
def velocity_page() -> Any:
    period, period_error = _period()
    by = _group(services.VELOCITY_GROUPS, "partner")
    overall, rows = services.pipeline_velocity(period, by)
    return render_template(
        "scorecards/velocity.html",
        period=period,
        period_error=period_error,
        by=by,
        groups=services.VELOCITY_GROUPS,
        stages=STAGES,
        overall=overall,
        rows=rows,
    )


@bp.route("/settings", methods=["GET", "POST"])
@requires(Permission.MANAGE_NETWORK)
def settings() -> Any:
    form = ScorecardSettingsForm(data=services.settings_values())
    status = 200
    if request.method == "POST":
        form = ScorecardSettingsForm()
        if form.validate_on_submit():
            try:
                services.save_settings(form.values(), actor=current_user)
            except ValidationFailed as exc:
                form.attach_errors(exc)
            else:
                flash("Scorecard settings saved; every partner's quality is worked out again.",
                      "success")  # fmt: skip
                return redirect(url_for("scorecards.settings"))
        status = 400
    return render_template("scorecards/settings.html", form=form), status


@bp.get("/mine")
@requires(Permission.WORK_INBOX)
def mine() -> Any:
    return redirect(
        url_for("scorecards.partner", partner_id=current_user.partner_id, **request.args)
    )
