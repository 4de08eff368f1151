"""E-mail from the outbox over SMTP; without SMTP_HOST (development) it is logged instead."""

from __future__ import annotations

import logging
import smtplib
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

from flask import current_app

from portal.db import utcnow
from portal.extensions import db
from portal.notifications import outbox
from portal.notifications.models import OutboundEmail

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)


def send_email(email_id: int) -> bool:
    """Make one attempt to send the e-mail if it is due; whether it went out."""
    now = utcnow()
    mail = outbox.claim(OutboundEmail, email_id, now, LEASE)
    if mail is None:
        return False
    try:
        transmit(mail, current_app.config)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("e-mail %s to %s failed: %s", mail.id, mail.recipient, exc)
        outbox.record_failure(mail, f"{type(exc).__name__}: {exc}", now, _attempts())
        return False
    mail.state, mail.sent_at, mail.last_error = "sent", utcnow(), None
    db.session.commit()
    return True


def _attempts() -> int:
    return current_app.config["MAIL_MAX_ATTEMPTS"]


def transmit(mail: OutboundEmail, config: Any) -> None:
    """Hand the e-mail to the SMTP server, or write it to the log when none is configured."""
    host = config.get("SMTP_HOST")
    if not host:
        log.info("e-mail (no SMTP_HOST) to %s: %s\n%s", mail.recipient, mail.subject, mail.body)
        return
    message = EmailMessage()
    message["From"] = config["SMTP_FROM"]
    message["To"] = mail.recipient
    message["Subject"] = mail.subject
    message.set_content(mail.body)
    with smtplib.SMTP(host, config["SMTP_PORT"], timeout=config["SMTP_TIMEOUT_SECONDS"]) as smtp:
        smtp.ehlo()
        if smtp.has_extn("starttls"):
            smtp.starttls()
            smtp.ehlo()
        if config.get("SMTP_USER"):
            smtp.login(config["SMTP_USER"], config.get("SMTP_PASSWORD") or "")
        smtp.send_message(message)


def send_due() -> int:
    """Attempt every e-mail of the tenant that is due; how many were attempted."""
    return outbox.each_due(OutboundEmail, send_email)
