"""Who may use the admin, and what they did there (design.md "Admin", issue "Admin").

- ``adminuser`` — a login: Argon2id password hash (never the password), role
  (viewer < operator < admin), whether it is active.
- ``auditentry`` — one line per operator action (replay, purge, user changes, logins):
  who, when, what, on what, how many.
"""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum

from sqlalchemy import Index
from sqlmodel import Field, Session, SQLModel, col, select

from storage.models import _ts, utcnow


class Role(IntEnum):
    """Roles in order: each may do what the ones before it may."""

    viewer = 1
    operator = 2  # replay dead letters
    admin = 3  # purge, users, unmasked personal data


class AdminUser(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True)
    password_hash: str = Field(max_length=255)
    role: str = Field(max_length=16)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    last_login_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class AuditEntry(SQLModel, table=True):
    __table_args__ = (Index("ix_auditentry_at", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    username: str = Field(max_length=64)
    action: str = Field(max_length=32)  # login, login-failed, replay, purge, user-add …
    target: str = Field(default="", max_length=255)  # what it acted on (a filter, a name)
    count: int = 0  # how many things it touched
    detail: str = Field(default="", max_length=500)


def audit(session: Session, username: str, action: str, *, target: str = "", count: int = 0,
          detail: str = "") -> None:  # fmt: skip
    session.add(AuditEntry(username=username, action=action, target=target[:255], count=count,
                           detail=detail[:500]))  # fmt: skip


def user_by_name(session: Session, username: str) -> AdminUser | None:
    return session.exec(select(AdminUser).where(col(AdminUser.username) == username)).first()


def any_users(session: Session) -> bool:
    return session.exec(select(AdminUser.id).limit(1)).first() is not None
