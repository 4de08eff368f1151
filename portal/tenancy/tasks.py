"""Jobs of the tenancy room."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from portal.db import utcnow
from portal.extensions import db
from portal.jobs import job
from portal.tenancy.models import AuthSession
from portal.tenancy.scoping import unscoped

KEEP_ENDED_SESSIONS = timedelta(days=30)


@job(queue="default", timeout=300)
def purge_ended_sessions() -> int:
    """End logins past their timeouts and delete those ended long ago; returns rows deleted."""
    now = utcnow()
    idle_cutoff = now - current_app.config["SESSION_IDLE"]
    with unscoped():
        db.session.execute(
            sa.update(AuthSession)
            .where(
                AuthSession.ended_at.is_(None),
                sa.or_(AuthSession.expires_at <= now, AuthSession.last_seen_at <= idle_cutoff),
            )
            .values(ended_at=now)
        )
        deleted = db.session.execute(
            sa.delete(AuthSession).where(AuthSession.ended_at <= now - KEEP_ENDED_SESSIONS)
        ).rowcount
        db.session.commit()
    return deleted
