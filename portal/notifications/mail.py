"""E-mail from the outbox over SMTP; without SMTP_HOST (development) it is logged instead."""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Sequence
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
    return send_emails([email_id]) == 1


def send_emails(email_ids: Sequence[int]) -> int:
    """Make one attempt at each of these e-mails that is due, over one connection to the
    mail server; how many went out. Each outcome is committed as it happens, so a worker
    that dies mid-way sends again only the e-mail it was sending."""
    now = utcnow()
    mails = outbox.claim_many(OutboundEmail, email_ids, now, LEASE)
    sent = 0
    with MailServer(current_app.config) as server:
        for mail in mails:
            try:
                server.send(mail)
            except (OSError, smtplib.SMTPException) as exc:
                log.warning("e-mail %s to %s failed: %s", mail.id, mail.recipient, exc)
                outbox.record_failure(mail, f"{type(exc).__name__}: {exc}", now, _attempts())
                continue
            mail.state, mail.sent_at, mail.last_error = "sent", utcnow(), None
            db.session.commit()
            sent += 1
    return sent


def _attempts() -> int:
    return current_app.config["MAIL_MAX_ATTEMPTS"]


class MailServer:
    """The SMTP server of the configuration, connected at the first e-mail and kept for the
    next ones; after a failure the next e-mail connects again. Without SMTP_HOST e-mails
    are written to the log."""

    def __init__(self, config: Any) -> None:
        self.config = config
        self.smtp: smtplib.SMTP | None = None

    def __enter__(self) -> MailServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._close()

    def send(self, mail: OutboundEmail) -> None:
        if not self.config.get("SMTP_HOST"):
            log.info("e-mail (no SMTP_HOST) to %s: %s\n%s", mail.recipient, mail.subject, mail.body)
            return
        message = EmailMessage()
        message["From"] = self.config["SMTP_FROM"]
        message["To"] = mail.recipient
        message["Subject"] = mail.subject
        message.set_content(mail.body)
        try:
            self._connected().send_message(message)
        except (OSError, smtplib.SMTPException):
            self._close()
            raise

    def _connected(self) -> smtplib.SMTP:
        if self.smtp is None:
            config = self.config
            smtp = smtplib.SMTP(
                config["SMTP_HOST"], config["SMTP_PORT"], timeout=config["SMTP_TIMEOUT_SECONDS"]
            )
            try:
                smtp.ehlo()
                if smtp.has_extn("starttls"):
                    smtp.starttls()
                    smtp.ehlo()
                if config.get("SMTP_USER"):
                    smtp.login(config["SMTP_USER"], config.get("SMTP_PASSWORD") or "")
            except BaseException:
                smtp.close()
                raise
            self.smtp = smtp
        return self.smtp

    def _close(self) -> None:
        smtp, self.smtp = self.smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()


def send_due() -> int:
    """Attempt every e-mail of the tenant that is due; how many were attempted."""
    return outbox.each_due(OutboundEmail, send_email)
