"""The `flask` command group: tenants, users, demo data, the server and the RQ processes."""

from __future__ import annotations

import logging
import threading
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from portal.errors import ServiceError, ValidationFailed
from portal.tenancy.roles import Role

tenant_cli = AppGroup("tenant", help="Manage tenants.")
user_cli = AppGroup("user", help="Manage users.")
rq_cli = AppGroup("rq", help="Run RQ workers and the periodic scheduler.")
sla_cli = AppGroup("sla", help="The SLA clock: expire overdue offers, send reminders.")
apikey_cli = AppGroup("apikey", help="Manage API keys.")


def _fail(exc: ServiceError) -> None:
    if isinstance(exc, ValidationFailed):
        message = "\n".join(f"  {field}: {text}" for field, text in exc.errors.items())
        raise click.ClickException("refused:\n" + message)
    raise click.ClickException(str(exc))


@tenant_cli.command("create")
@click.argument("slug")
@click.option("--name", default="", help="Display name (defaults to the slug).")
def create_tenant(slug: str, name: str) -> None:
    """Create a tenant identified by SLUG."""
    from portal.tenancy import services

    try:
        tenant = services.create_tenant(slug, name or slug)
    except ServiceError as exc:
        _fail(exc)
    click.echo(f"Created tenant {tenant.slug} (id {tenant.id}).")


@tenant_cli.command("export")
@click.argument("slug")
@click.option(
    "--to",
    "folder",
    type=click.Path(exists=True, file_okay=False, writable=True),
    default=".",
    show_default=True,
    help="The folder the ZIP is written to.",
)
def export_tenant(slug: str, folder: str) -> None:
    """Write tenant SLUG's whole data to <slug>-export-<YYYYMMDD>.zip, as an admin's download."""
    import shutil
    from pathlib import Path

    from portal.tenancy import export, services
    from portal.tenancy.scoping import tenant_scope

    try:
        tenant = services.tenant_by_slug(slug)
    except ServiceError as exc:
        _fail(exc)
    with tenant_scope(tenant.id):
        done = export.export_tenant(actor="cli")
    path = Path(folder) / done.filename
    with done.file, path.open("wb") as out:
        shutil.copyfileobj(done.file, out)
    rows = ", ".join(f"{name} {count}" for name, count in done.counts.items())
    click.echo(f"Wrote {path} ({done.size:,} bytes): {rows}.")


@user_cli.command("create")
@click.option("--tenant", "tenant_slug", required=True, help="The tenant's slug.")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--partner-id", type=int, default=None, help="Required for partner users.")
@click.password_option(help="The initial password (asked for if not given).")
def create_user(
    tenant_slug: str, email: str, name: str, role: str, partner_id: int | None, password: str
) -> None:
    """Create a user in a tenant."""
    from portal.tenancy import services
    from portal.tenancy.scoping import tenant_scope

    try:
        tenant = services.tenant_by_slug(tenant_slug)
        with tenant_scope(tenant.id):
            user = services.create_user(
                email=email,
                name=name,
                role=role,
                password=password,
                partner_id=partner_id,
                actor="cli",
            )
    except ServiceError as exc:
        _fail(exc)
    click.echo(f"Created {user.role} {user.email} in {tenant.slug}.")


@apikey_cli.command("create")
@click.option("--tenant", "tenant_slug", required=True, help="The tenant's slug.")
@click.option("--name", required=True, help="The system that will use the key.")
@click.option("--by", "admin_email", required=True, help="The admin recorded as its creator.")
def create_api_key(tenant_slug: str, name: str, admin_email: str) -> None:
    """Create an API key and print it: it is shown this once only."""
    from portal.tenancy import services
    from portal.tenancy.scoping import tenant_scope

    try:
        tenant = services.tenant_by_slug(tenant_slug)
        with tenant_scope(tenant.id):
            admin = services.key_manager_by_email(admin_email)
            _, secret = services.create_api_key(name, actor=admin)
    except ServiceError as exc:
        _fail(exc)
    click.echo(secret)


@click.command("demo")
@with_appcontext
@click.option(
    "--password",
    default="demo-portal-2026",
    show_default=True,
    help="Password of every demo login.",
)
@click.option("--leads", default=600, show_default=True, help="Leads per demo tenant.")
def demo(password: str, leads: int) -> None:
    """Build two demo tenants (or refresh their logins) and print the demo logins."""
    from portal.demo import build_demo

    # The demo's history notifies its people as live work would (the bell, the outbox);
    # without SMTP each e-mail would be a log line, a thousand of them above the logins.
    # Its jobs run in turn, not on threads: on SQLite a thread's e-mail would wait for the
    # next tenant's long write and give up, "database is locked".
    mail_log = logging.getLogger("portal.notifications.mail")
    level, threads = mail_log.level, current_app.config["INPROCESS_JOB_THREADS"]
    mail_log.setLevel(logging.WARNING)
    current_app.config["INPROCESS_JOB_THREADS"] = False
    try:
        logins = build_demo(password=password, leads_per_tenant=leads)
    except ServiceError as exc:
        _fail(exc)
    finally:
        mail_log.setLevel(level)
        current_app.config["INPROCESS_JOB_THREADS"] = threads
    click.echo("")
    click.echo(f"{'tenant':<10} {'role':<16} {'e-mail':<36} password")
    click.echo("-" * 80)
    for login in logins:
        click.echo(f"{login.tenant:<10} {login.role:<16} {login.email:<36} {password}")


@click.command("serve")
@with_appcontext
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
def serve(host: str, port: int) -> None:
    """Run the development server; without Redis, periodic jobs run on an in-process timer."""
    from werkzeug.serving import run_simple

    from portal.jobs import start_inprocess_timer

    app: Any = current_app._get_current_object()  # type: ignore[attr-defined]
    stop = threading.Event()
    if not app.config["REDIS_URL"]:
        start_inprocess_timer(app, stop)
        click.echo("No REDIS_URL: jobs run in-process, periodic jobs on a timer thread.")
    try:
        # app.run() refuses to start inside the flask CLI; run werkzeug's server directly.
        run_simple(host, port, app, threaded=True, use_reloader=False)
    finally:
        stop.set()


@rq_cli.command("worker")
@click.argument("queues", nargs=-1)
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option(
    "--scheduler-retry",
    default=30,
    show_default=True,
    type=click.IntRange(min=1),
    help="Seconds between two tries at RQ's scheduler, while another worker holds it.",
)
def rq_worker(queues: tuple[str, ...], burst: bool, scheduler_retry: int) -> None:
    """Run an RQ worker, with the scheduler, on the given queues (default: all)."""
    from rq import SimpleWorker

    from portal.extensions import queue
    from portal.jobs import QUEUE_NAMES

    if not queue.is_async:
        raise click.ClickException(
            "REDIS_URL is not set: jobs run in-process, no worker is needed."
        )
    names = queues or QUEUE_NAMES
    # A SimpleWorker runs jobs in this process, inside the app context the CLI pushed.
    # One worker runs the scheduler (a lock in Redis); the others try for it again only at
    # their maintenance (RQ's default: every ten minutes), and an idle worker only between
    # two waits for a job. A holder killed without letting go keeps the lock for a minute:
    # past that, jobs scheduled for a moment would wait for a worker's next try, so both
    # come every scheduler_retry seconds (a wait for a job ends 15 s before the worker's
    # heartbeat is due). A job is not taken for abandoned by the more frequent maintenance:
    # a SimpleWorker's job stays registered as running for its whole timeout.
    worker = SimpleWorker(
        [queue.queue(n) for n in names],
        connection=queue.connection,
        maintenance_interval=scheduler_retry,
        worker_ttl=scheduler_retry + 15,
    )
    worker.work(burst=burst, with_scheduler=True)


@rq_cli.command("cron")
def rq_cron() -> None:
    """Enqueue the periodic jobs on their intervals (run exactly one of these)."""
    from rq.cron import CronScheduler

    from portal.extensions import queue
    from portal.jobs import periodic_jobs

    if not queue.is_async:
        raise click.ClickException("REDIS_URL is not set: `flask serve` runs periodic jobs itself.")
    scheduler = CronScheduler(connection=queue.connection)
    for periodic in periodic_jobs():
        scheduler.register(
            periodic.fn,
            queue_name=periodic.fn.queue_name,  # type: ignore[attr-defined]
            interval=periodic.interval_seconds,
            job_timeout=periodic.timeout,
        )
    scheduler.start()


@sla_cli.command("sweep")
@click.option("--loop", is_flag=True, help="Sweep again and again, until stopped.")
@click.option(
    "--interval",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="Seconds between two sweeps with --loop.",
)
def sla_sweep(loop: bool, interval: float) -> None:
    """Expire every overdue offer, route its lead on, and send the reminders due."""
    import time

    from portal.extensions import db
    from portal.sla.sweep import sweep

    while True:
        try:
            report = sweep()
        except Exception as exc:
            db.session.rollback()
            if not loop:
                raise click.ClickException(f"the sweep failed: {exc}") from exc
            current_app.logger.exception("the SLA sweep failed; trying again")
        else:
            if report.expired or report.reminded or not loop:
                click.echo(
                    f"expired {report.expired}, routed {report.routed}, reminders {report.reminded}"
                )
        if not loop:
            return
        db.session.remove()
        time.sleep(interval)


def register(app: Flask) -> None:
    for command in (tenant_cli, user_cli, apikey_cli, rq_cli, sla_cli, demo, serve):
        app.cli.add_command(command)
