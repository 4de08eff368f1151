"""A user's in-app notifications: the unread count, the list, marking them read."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from portal.db import utcnow
from portal.errors import NotFound
from portal.extensions import db
from portal.notifications.models import Notification
from portal.page_versions import for_users


def unread_count(user_id: int) -> int:
    """How many of the user's notifications are unread; one indexed count."""
    return db.session.scalar(sa.select(unread_count_of(user_id)))


def unread_count_of(user_id: Any) -> sa.ScalarSelect[int]:
    """The unread count of the user whose id is given (a value or a column), as a column."""
    return (
        sa.select(sa.func.count())
        .select_from(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .scalar_subquery()
    )


def page_for(user_id: int, page: int, per_page: int) -> Any:
    """The user's notifications, newest first."""
    query = (
        sa.select(Notification)
        .where(Notification.user_id == user_id)
        .order_by(Notification.id.desc())
    )
    return db.paginate(query, page=page, per_page=per_page, error_out=False)


def mark_read(user_id: int, notification_id: int) -> Notification:
    """Mark one of the user's notifications read; NotFound for anyone else's."""
    note = db.session.get(Notification, notification_id)
    if note is None or note.user_id != user_id:
        raise NotFound("no such notification")
    if note.read_at is None:
        note.read_at = utcnow()
    db.session.commit()
    return note


def mark_all_read(user_id: int) -> int:
    """Mark every unread notification of the user read; how many were."""
    count = db.session.execute(
        sa.update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False, **for_users([user_id]))
    ).rowcount
    db.session.commit()
    return count
