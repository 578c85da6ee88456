"""The SQL of accounts and tokens, in the style of `queries` (synchronous functions of
one `Connection`, each run by `SQLStore` as one transaction).

Revoking sets `revoked_at` once and never clears it; the row stays (until it is long
expired and pruned) so that a revoked token is told apart from one never issued, and so
that listings show what was revoked and when.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from backend.errors import Conflict, NotFound
from backend.people.model import Account, TokenRecord
from backend.store import tables as t
from backend.store.queries import aware

_accounts = t.accounts.c
_tokens = t.tokens.c
_links = t.slack_links.c


# -- accounts ---------------------------------------------------------------------------


def create_account(conn: Connection, account: Account) -> None:
    """Insert the account; Conflict when the name is taken (checked first, and by the
    primary key against a racing insert)."""
    if get_account(conn, account.name) is not None:
        raise _taken(account.name)
    try:
        conn.execute(
            insert(t.accounts).values(
                name=account.name,
                password_hash=account.password_hash,
                admin=account.admin,
                created_at=aware(account.created_at),
            )
        )
    except IntegrityError as exc:
        raise _taken(account.name) from exc


def get_account(conn: Connection, name: str) -> Account | None:
    if "\x00" in name:  # PostgreSQL cannot even compare such a string: no account has it
        return None
    row = conn.execute(select(t.accounts).where(_accounts.name == name)).mappings().first()
    return to_account(row) if row is not None else None


def list_accounts(conn: Connection) -> list[Account]:
    rows = conn.execute(select(t.accounts).order_by(_accounts.name)).mappings().all()
    return [to_account(row) for row in rows]


def count_accounts(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(t.accounts)).scalar_one()


def set_password(conn: Connection, name: str, password_hash: str) -> bool:
    if "\x00" in name:
        return False
    changed = conn.execute(
        update(t.accounts).where(_accounts.name == name).values(password_hash=password_hash)
    )
    return changed.rowcount > 0


def delete_account(conn: Connection, name: str, at: datetime) -> list[str] | None:
    """Delete the account and revoke its principal's live tokens, together: the ids of
    the tokens revoked now, or None (nothing changed) when there was no such account."""
    if "\x00" in name:
        return None
    if conn.execute(delete(t.accounts).where(_accounts.name == name)).rowcount == 0:
        return None
    conn.execute(delete(t.slack_links).where(_links.account == name))
    return revoke_tokens_of(conn, name, at)


# -- tokens -----------------------------------------------------------------------------


def record_token(conn: Connection, record: TokenRecord) -> None:
    conn.execute(
        insert(t.tokens).values(
            id=record.id,
            principal=record.principal,
            admin=record.admin,
            kind=record.kind,
            created_at=aware(record.created_at),
            expires_at=aware(record.expires_at),
            revoked_at=aware(record.revoked_at),
        )
    )


def get_token(conn: Connection, token_id: str) -> TokenRecord | None:
    if "\x00" in token_id:
        return None
    row = conn.execute(select(t.tokens).where(_tokens.id == token_id)).mappings().first()
    return to_token(row) if row is not None else None


def list_tokens(
    conn: Connection, principal: str | None, limit: int, before: str | None
) -> list[TokenRecord]:
    """Newest first (ids sort by creation time); every principal's when `principal` is
    None; `before` is the id of the last token of the previous page."""
    if "\x00" in (principal or "") + (before or ""):  # no record has it (see get_account)
        return []
    query = select(t.tokens).order_by(_tokens.id.desc()).limit(limit)
    if principal is not None:
        query = query.where(_tokens.principal == principal)
    if before:
        query = query.where(_tokens.id < before)
    return [to_token(row) for row in conn.execute(query).mappings().all()]


def revoke_token(conn: Connection, token_id: str, at: datetime) -> TokenRecord | None:
    """Revoke the token (a token revoked already keeps its first `revoked_at`); the
    record after, or None when no such token was issued."""
    if "\x00" in token_id:
        return None
    conn.execute(
        update(t.tokens)
        .where(_tokens.id == token_id, _tokens.revoked_at.is_(None))
        .values(revoked_at=aware(at))
    )
    return get_token(conn, token_id)


def revoke_tokens_of(conn: Connection, principal: str, at: datetime) -> list[str]:
    """Revoke every token of `principal` not revoked yet; their ids."""
    rows = conn.execute(
        update(t.tokens)
        .where(_tokens.principal == principal, _tokens.revoked_at.is_(None))
        .values(revoked_at=aware(at))
        .returning(_tokens.id)
    ).all()
    return sorted(row[0] for row in rows)


def prune_tokens(conn: Connection, expired_before: datetime) -> int:
    """Forget tokens that expired before `expired_before` (they can never work again)."""
    done = conn.execute(delete(t.tokens).where(_tokens.expires_at < aware(expired_before)))
    return done.rowcount


# -- rows -------------------------------------------------------------------------------


def _taken(name: str) -> Conflict:
    return Conflict(
        f"an account named {name!r} exists already",
        [{"field": "name", "message": "taken"}],
    )


def to_account(row: Any) -> Account:
    return Account(
        name=row["name"],
        password_hash=row["password_hash"],
        admin=bool(row["admin"]),
        created_at=aware(row["created_at"]),
    )


def to_token(row: Any) -> TokenRecord:
    return TokenRecord(
        id=row["id"],
        principal=row["principal"],
        admin=bool(row["admin"]),
        kind=row["kind"],
        created_at=aware(row["created_at"]),
        expires_at=aware(row["expires_at"]),
        revoked_at=aware(row["revoked_at"]),
    )


# -- Slack links ------------------------------------------------------------------------


def link_slack(conn: Connection, principal: str, account: str, at: datetime) -> None:
    """Link the Slack principal to the account: NotFound without such an account,
    Conflict when it is linked to another one (unlink it first); linking again is a no-op."""
    if get_account(conn, account) is None:
        raise NotFound(f"no account named {account!r}")
    linked = linked_account(conn, principal)
    if linked == account:
        return
    if linked is not None:
        raise Conflict(f"{principal} is linked to {linked!r}; unlink it first")
    try:
        conn.execute(
            insert(t.slack_links).values(principal=principal, account=account, created_at=aware(at))
        )
    except IntegrityError as exc:  # a racing link of the same Slack user
        raise Conflict(f"{principal} was linked meanwhile; try again") from exc


def unlink_slack(conn: Connection, principal: str) -> bool:
    """False when the Slack principal was not linked."""
    return conn.execute(delete(t.slack_links).where(_links.principal == principal)).rowcount > 0


def linked_account(conn: Connection, principal: str) -> str | None:
    if "\x00" in principal:
        return None
    query = select(_links.account).where(_links.principal == principal)
    return conn.execute(query).scalar_one_or_none()


def slack_links(conn: Connection) -> list[tuple[str, str]]:
    """Every (Slack principal, account), by account."""
    query = select(_links.principal, _links.account).order_by(_links.account, _links.principal)
    return [(row.principal, row.account) for row in conn.execute(query)]
