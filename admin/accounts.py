"""Managing admin logins, shared by ``omsx users …`` and the admin's users page: each
change is checked the same way and written to the audit log by whoever made it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from admin.auth import hash_password
from omsx.errors import NotFound, OmsxError
from storage.users import AdminUser, AuditEntry, Role, audit, user_by_name

MIN_PASSWORD = 10
MAX_NAME = 64


class AccountError(OmsxError):
    """A user change that cannot be made (the message says why)."""


@dataclass(frozen=True)
class Account:
    username: str
    role: str
    active: bool
    created_at: datetime
    last_login_at: datetime | None


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password has at least {MIN_PASSWORD} characters")


def _user(session: Session, username: str) -> AdminUser:
    user = user_by_name(session, username)
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


def add_user(session: Session, actor: str, username: str, password: str, role: str) -> None:
    if not username or len(username) > MAX_NAME or not username.isprintable() or " " in username:
        raise AccountError(f"a user name is 1–{MAX_NAME} printable characters without spaces")
    if role not in Role.__members__:
        raise AccountError(f"role {role!r} is none of {', '.join(Role.__members__)}")
    check_password_rules(password)
    if user_by_name(session, username) is not None:
        raise AccountError(f"user {username!r} exists")
    session.add(AdminUser(username=username, password_hash=hash_password(password), role=role))
    audit(session, actor, "user-add", target=username, detail=f"role {role}")


def set_password(session: Session, actor: str, username: str, password: str) -> None:
    check_password_rules(password)
    user = _user(session, username)
    user.password_hash = hash_password(password)
    session.add(user)
    audit(session, actor, "user-passwd", target=username)


def set_active(session: Session, actor: str, username: str, active: bool) -> None:
    """Enable or disable a login; a disabled user's sessions end at their next request."""
    if not active and username == actor:
        raise AccountError("you cannot disable yourself")
    user = _user(session, username)
    user.active = active
    session.add(user)
    audit(session, actor, "user-enable" if active else "user-disable", target=username)


def set_role(session: Session, actor: str, username: str, role: str) -> None:
    if role not in Role.__members__:
        raise AccountError(f"role {role!r} is none of {', '.join(Role.__members__)}")
    if username == actor and role != Role.admin.name:
        raise AccountError("you cannot take the admin role from yourself")
    user = _user(session, username)
    audit(session, actor, "user-role", target=username, detail=f"{user.role} → {role}")
    user.role = role
    session.add(user)


def accounts(session: Session) -> list[Account]:
    found = session.exec(select(AdminUser).order_by(col(AdminUser.username))).all()
    return [Account(u.username, u.role, u.active, u.created_at, u.last_login_at) for u in found]


def audit_log(session: Session, *, before: int | None = None, limit: int = 100) -> list[AuditEntry]:
    """The audit lines newest first (keyset by id: pass the last id as ``before``)."""
    query = select(AuditEntry)
    if before is not None:
        query = query.where(col(AuditEntry.id) < before)
    return list(session.exec(query.order_by(col(AuditEntry.id).desc()).limit(limit)).all())
