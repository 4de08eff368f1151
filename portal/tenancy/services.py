"""Use cases of tenants and accounts. Each commits its own transaction."""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy.orm import joinedload, selectinload

from portal import audit
from portal.db import utcnow
from portal.errors import Conflict, NotFound, ValidationFailed
from portal.extensions import db
from portal.tenancy import passwords
from portal.tenancy.models import ApiKey, AuthSession, Tenant, User
from portal.tenancy.roles import Permission, Role, requires_partner
from portal.tenancy.scoping import current_tenant_id, tenant_scope, unscoped
from portal.tenancy.seeding import seed_defaults

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
API_KEY_PREFIX = "pp_"
SESSION_TOUCH_EVERY = timedelta(seconds=60)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _hash_profile() -> str:
    return current_app.config["PASSWORD_HASH_PROFILE"]


def normalise_email(raw: str) -> str:
    """The canonical form of an e-mail address; ValidationFailed if it is not one."""
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValidationFailed({"email": str(exc)}) from None


# Tenants ---------------------------------------------------------------------------------


def create_tenant(slug: str, name: str, *, actor: Any = "cli") -> Tenant:
    """Create a tenant; refuses a malformed or taken slug."""
    slug = slug.strip().lower()
    if not SLUG_RE.match(slug):
        raise ValidationFailed({"slug": "Use 1 to 40 lower-case letters, digits or hyphens."})
    with unscoped():
        if db.session.scalar(sa.select(Tenant.id).where(Tenant.slug == slug)):
            raise ValidationFailed({"slug": f"A tenant with slug {slug!r} exists already."})
        tenant = Tenant(slug=slug, name=name.strip() or slug)
        db.session.add(tenant)
        db.session.flush()
        with tenant_scope(tenant.id):
            seed_defaults()
        audit.record(
            db.session,
            actor=actor,
            action="tenant.created",
            obj=tenant,
            changes={"slug": slug, "name": tenant.name},
            tenant_id=tenant.id,
        )
        db.session.commit()
    return tenant


def note_config_change() -> None:
    """Bump the current tenant's configuration version, in the caller's transaction.

    Routing indexes compare this number to know when to rebuild; the UPDATE is atomic, so
    concurrent changes each count.
    """
    tenant_id = current_tenant_id()
    if tenant_id is None:
        raise RuntimeError("a configuration change needs a tenant in scope")
    db.session.execute(
        sa.update(Tenant)
        .where(Tenant.id == tenant_id)
        .values(config_version=Tenant.config_version + 1)
    )


def tenant_by_slug(slug: str) -> Tenant:
    with unscoped():
        tenant = db.session.scalar(sa.select(Tenant).where(Tenant.slug == slug.strip().lower()))
    if tenant is None:
        raise NotFound(f"no tenant {slug!r}")
    return tenant


# Users -----------------------------------------------------------------------------------


def _check_new_user(
    email: str, name: str, role: str, password: str, partner_id: int | None
) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not name.strip():
        errors["name"] = "Enter the person's name."
    elif len(name) > 120:
        errors["name"] = "Use at most 120 characters."
    if role not in {r.value for r in Role}:
        errors["role"] = "Choose one of the roles."
    elif requires_partner(role) and partner_id is None:
        errors["partner_id"] = "A partner user must belong to a partner."
    elif not requires_partner(role) and partner_id is not None:
        errors["partner_id"] = "Only partner users belong to a partner."
    problems = passwords.password_problems(password, email=email)
    if problems:
        errors["password"] = " ".join(problems)
    return errors


def create_user(
    *,
    email: str,
    name: str,
    role: str,
    password: str,
    partner_id: int | None = None,
    actor: Any,
) -> User:
    """Create a user in the current tenant, checking role, partner and password policy."""
    from portal.partners.models import Partner

    errors: dict[str, str] = {}
    try:
        email = normalise_email(email)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    errors.update(_check_new_user(email, name, role, password, partner_id))
    if (
        partner_id is not None
        and "partner_id" not in errors
        and db.session.get(Partner, partner_id) is None
    ):
        errors["partner_id"] = "No such partner."
    if "email" not in errors and db.session.scalar(sa.select(User.id).where(User.email == email)):
        errors["email"] = "A user with this e-mail exists already."
    if errors:
        raise ValidationFailed(errors)
    user = User(
        email=email,
        name=name.strip(),
        role=role,
        partner_id=partner_id,
        password_hash=passwords.hash_password(password, _hash_profile()),
    )
    db.session.add(user)
    db.session.flush()
    audit.record(
        db.session,
        actor=actor,
        action="user.created",
        obj=user,
        changes={"email": email, "role": role, "partner_id": partner_id},
    )
    db.session.commit()
    return user


def users_page(page: int, per_page: int) -> Any:
    """The tenant's users, active first, then by name."""
    query = (
        sa.select(User)
        .options(selectinload(User.partner))
        .order_by(User.active.desc(), User.name, User.id)
    )
    return db.paginate(query, page=page, per_page=per_page, error_out=False)


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("no such user")
    return user


def _end_all_sessions(user_id: int, now: datetime, except_id: int | None = None) -> None:
    statement = (
        sa.update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.ended_at.is_(None))
        .values(ended_at=now)
    )
    if except_id is not None:
        statement = statement.where(AuthSession.id != except_id)
    db.session.execute(statement)


def set_user_active(user_id: int, active: bool, *, actor: User) -> User:
    """Deactivate (ending every login at once) or reactivate a user of this tenant."""
    user = get_user(user_id)
    if not active and user.id == actor.id:
        raise Conflict("You cannot deactivate your own account.")
    if user.active == active:
        raise Conflict(f"{user.email} is already {'active' if active else 'deactivated'}.")
    user.active = active
    if not active:
        _end_all_sessions(user.id, utcnow())
    audit.record(
        db.session,
        actor=actor,
        action="user.activated" if active else "user.deactivated",
        obj=user,
        changes={"active": active},
    )
    db.session.commit()
    return user


def change_password(user: User, current: str, new: str, *, keep_session_id: int | None) -> None:
    """Change a user's own password; every other login of theirs ends."""
    if not passwords.verify_password(user.password_hash, current):
        raise ValidationFailed({"current_password": "This is not your current password."})
    problems = passwords.password_problems(new, email=user.email)
    if problems:
        raise ValidationFailed({"new_password": " ".join(problems)})
    if passwords.verify_password(user.password_hash, new):
        raise ValidationFailed(
            {"new_password": "Choose a password different from the current one."}
        )
    now = utcnow()
    user.password_hash = passwords.hash_password(new, _hash_profile())
    user.password_changed_at = now
    _end_all_sessions(user.id, now, except_id=keep_session_id)
    audit.record(db.session, actor=user, action="user.password_changed", obj=user)
    db.session.commit()


# Login -----------------------------------------------------------------------------------


@dataclass
class LoginAttempt:
    """What a login form submission found: accounts to log into, or why not."""

    accounts: list[User] = field(default_factory=list)
    deactivated: bool = False

    @property
    def succeeded(self) -> bool:
        return bool(self.accounts)


def authenticate(email: str, password: str) -> LoginAttempt:
    """Every active account, in any tenant, that this e-mail and password open."""
    try:
        email = normalise_email(email)
    except ValidationFailed:
        email = email.strip().lower()
    with unscoped():
        candidates = (
            list(db.session.scalars(sa.select(User).where(User.email == email))) if email else []
        )
    if not candidates:
        passwords.verify_password(passwords.dummy_hash(_hash_profile()), password)
        return LoginAttempt()
    opened = [u for u in candidates if passwords.verify_password(u.password_hash, password)]
    active = [u for u in opened if u.active]
    return LoginAttempt(accounts=active, deactivated=bool(opened) and not active)


def accounts_by_ids(user_ids: list[int]) -> list[User]:
    """Accounts a person proved a password for, to choose a tenant from."""
    with unscoped():
        users = db.session.scalars(sa.select(User).where(User.id.in_(user_ids), User.active))
        return sorted(users, key=lambda u: u.tenant.name)


def start_session(user: User, *, ip: str | None, user_agent: str | None) -> tuple[str, AuthSession]:
    """Open a login for the user; returns the token to keep in the session cookie."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with tenant_scope(user.tenant_id):
        auth = AuthSession(
            user_id=user.id,
            token_hash=_digest(token),
            last_seen_at=now,
            expires_at=now + current_app.config["PERMANENT_SESSION_LIFETIME"],
            ip_address=(ip or "")[:45] or None,
            user_agent=(user_agent or "")[:255] or None,
        )
        db.session.add(auth)
        user.last_login_at = now
        audit.record(
            db.session,
            actor=user,
            action="user.logged_in",
            obj=user,
            changes={"ip": auth.ip_address},
        )
        db.session.commit()
    return token, auth


# What else a page wants to know of its user, read by the login's own query: a name and a
# function making the column from the user's id column (a correlated subquery).
LoginExtras = Mapping[str, Callable[[Any], sa.ColumnElement[Any]]]


@dataclass(frozen=True)
class SignedIn:
    user: User
    auth: AuthSession
    extras: dict[str, Any]
    ends_at: datetime  # when the login lapses unless used again: its age or its idleness


def login_ends_at(expires_at: datetime, last_seen_at: datetime) -> datetime:
    """When a login lapses unless used again: its age or its idleness, whichever is first."""
    return min(expires_at, last_seen_at + current_app.config["SESSION_IDLE"])


def _login_ends_at(auth: AuthSession) -> datetime:
    return login_ends_at(auth.expires_at, auth.last_seen_at)


@functools.lru_cache(maxsize=8)
def _login_query(also: tuple[tuple[str, Callable[[Any], Any]], ...]) -> sa.Select[Any]:
    """The login lookup with these further columns, built once rather than on every request.

    Every page shows the user, their tenant and their partner: one query, not three.
    """
    return (
        sa.select(AuthSession, *(column(AuthSession.user_id).label(name) for name, column in also))
        .options(joinedload(AuthSession.user).joinedload(User.partner))
        .where(AuthSession.token_hash == sa.bindparam("token_hash"))
    )


def session_user(
    user_id: str, token: str | None, tenant_id: Any = None, *, also: LoginExtras | None = None
) -> SignedIn | None:
    """The user and login behind a session cookie, or None if the login has ended or lapsed.

    The cookie (signed) names the tenant signed in to: the login is looked for in that
    tenant alone, the scope the request then works in, so the database is told its tenant
    once. A cookie from before it named one is looked up in every tenant. The columns of
    `also` come back by name in `extras`.
    """
    if not token or not user_id.isdigit():
        return None
    now = utcnow()
    also = also or {}
    scope = tenant_scope(tenant_id) if type(tenant_id) is int else unscoped()
    with scope:
        row = db.session.execute(
            _login_query(tuple(also.items())), {"token_hash": _digest(token)}
        ).first()
        auth = row[0] if row else None
        if auth is None or auth.user_id != int(user_id) or auth.ended_at is not None:
            return None
        if now >= _login_ends_at(auth) or not auth.user.active:
            auth.ended_at = now
            db.session.commit()
            return None
        if now - auth.last_seen_at >= SESSION_TOUCH_EVERY:
            auth.last_seen_at = now
            db.session.commit()
        extras = dict(zip(also, row[1:], strict=True))
        return SignedIn(auth.user, auth, extras, _login_ends_at(auth))


def end_session(token: str | None, tenant_id: Any = None) -> None:
    """End the login behind this token (logout); harmless if it has ended already.

    Looked for in the tenant the cookie names, as session_user does: a write in one tenant
    changes only that tenant's kept pages and logins, not every tenant's.
    """
    if not token:
        return
    with tenant_scope(tenant_id) if type(tenant_id) is int else unscoped():
        db.session.execute(
            sa.update(AuthSession)
            .where(AuthSession.token_hash == _digest(token), AuthSession.ended_at.is_(None))
            .values(ended_at=utcnow())
        )
        db.session.commit()


# API keys --------------------------------------------------------------------------------


def api_keys() -> list[ApiKey]:
    """The tenant's API keys, live ones first, newest first."""
    query = sa.select(ApiKey).order_by(ApiKey.revoked_at.is_not(None), ApiKey.created_at.desc())
    return list(db.session.scalars(query))


def key_manager_by_email(email: str) -> User:
    """The current tenant's active user with this e-mail who may manage API keys."""
    user = db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))
    if user is None or not user.active or not user.can(Permission.MANAGE_API_KEYS):
        raise NotFound(f"no active admin {email!r} in this tenant")
    return user


def create_api_key(name: str, *, actor: User) -> tuple[ApiKey, str]:
    """Create an API key for the current tenant; the plain key is returned this once only."""
    name = name.strip()
    if not name:
        raise ValidationFailed({"name": "Name the key after the system that will use it."})
    if len(name) > 80:
        raise ValidationFailed({"name": "Use at most 80 characters."})
    secret = API_KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(name=name, prefix=secret[:10], key_hash=_digest(secret), created_by_id=actor.id)
    db.session.add(key)
    db.session.flush()
    audit.record(db.session, actor=actor, action="api_key.created", obj=key, changes={"name": name})
    db.session.commit()
    return key, secret


def revoke_api_key(key_id: int, *, actor: User) -> ApiKey:
    """Revoke a key of the current tenant; a revoked key opens nothing from then on."""
    key = db.session.get(ApiKey, key_id)
    if key is None:
        raise NotFound("no such API key")
    if key.revoked_at is not None:
        raise Conflict(f"The key {key.name!r} was revoked already.")
    key.revoked_at = utcnow()
    audit.record(
        db.session, actor=actor, action="api_key.revoked", obj=key, changes={"name": key.name}
    )
    db.session.commit()
    return key


def api_key_for(secret: str) -> ApiKey | None:
    """The live key that this bearer secret is, whatever its tenant."""
    if not secret.startswith(API_KEY_PREFIX):
        return None
    with unscoped():
        key = db.session.scalar(sa.select(ApiKey).where(ApiKey.key_hash == _digest(secret)))
        if key is None or key.revoked_at is not None:
            return None
        now = utcnow()
        if key.last_used_at is None or now - key.last_used_at >= SESSION_TOUCH_EVERY:
            key.last_used_at = now
            db.session.commit()
        return key


def audit_page(page: int, per_page: int) -> Any:
    """The tenant's audit trail, newest first."""
    query = sa.select(audit.AuditEvent).order_by(
        audit.AuditEvent.at.desc(), audit.AuditEvent.id.desc()
    )
    return db.paginate(query, page=page, per_page=per_page, error_out=False)
