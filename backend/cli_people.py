"""`genflow user …` and `genflow token …`: accounts and tokens, on the database directly.

They need no running server (the first admin can be made before the first start) and
work on whatever GENFLOW_DATABASE_URL names, PostgreSQL included. A revocation made here
reaches running replicas over Redis when GENFLOW_REDIS_URL is set, and within
GENFLOW_TOKEN_CACHE_SECONDS otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import sys
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from backend.domain import isoformat, utcnow
from backend.errors import GenFlowError, InvalidInput
from backend.settings import Settings

if TYPE_CHECKING:  # imported when a command runs: `genflow --help` stays quick
    from backend.people.accounts import AccountService
    from backend.people.tokens import TokenService


def add_commands(commands: argparse._SubParsersAction) -> None:
    """The `user` and `token` subcommands (`genflow --help` lists them)."""
    user = commands.add_parser("user", help="manage accounts (people who log in)")
    users = user.add_subparsers(dest="user_command", required=True)
    add = users.add_parser("add", help="add an account; asks for its password twice")
    add.add_argument("name", help="the account name, which is its principal (e.g. alice)")
    add.add_argument("--admin", action="store_true", help="may see and decide everything")
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin (one line)"
    )
    users.add_parser("list", help="list the accounts")
    remove = users.add_parser("remove", help="remove an account and revoke its tokens")
    remove.add_argument("name")
    link = users.add_parser(
        "link-slack", help="let a Slack user act as this account (same jobs in Slack and web)"
    )
    link.add_argument("name")
    link.add_argument("team", help="the Slack team (workspace) id, T…")
    link.add_argument("user", help="the Slack user id, U… (their profile: Copy member ID)")
    unlink = users.add_parser("unlink-slack", help="end a Slack user's link to an account")
    unlink.add_argument("team")
    unlink.add_argument("user")
    passwd = users.add_parser("passwd", help="set a new password for an account")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true", help="read it from stdin")

    token = commands.add_parser("token", help="manage API tokens")
    tokens = token.add_subparsers(dest="token_command", required=True)
    create = tokens.add_parser("create", help="issue a token (recorded, revocable)")
    create.add_argument("--sub", required=True, help="who the token is for, e.g. alice")
    create.add_argument("--admin", action="store_true", help="may see every principal's jobs")
    create.add_argument("--ttl", default="30d", help="lifetime: 3600s, 90m, 12h, 30d, 2w")
    listing = tokens.add_parser("list", help="list live tokens (--all: revoked, expired too)")
    listing.add_argument("--principal", help="only this principal's")
    listing.add_argument("--all", action="store_true", help="also revoked and expired ones")
    revoke = tokens.add_parser("revoke", help="revoke a token by id (from `token list`)")
    revoke.add_argument("id")


async def run(settings: Settings, args: argparse.Namespace) -> int:
    """One `user` or `token` command; its exit code."""
    try:
        password = _password(args) if _wants_password(args) else ""
        async with _people(settings) as (accounts, tokens):
            if args.command == "user":
                return await _user(accounts, args, password)
            return await _token(settings, tokens, args)
    except InvalidInput as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    except GenFlowError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1


async def _user(accounts: AccountService, args: argparse.Namespace, password: str) -> int:
    from backend.people import acting

    if args.user_command == "add":
        account = await accounts.add(args.name, password, admin=args.admin)
        print(f"account {account.name} added{' (admin)' if account.admin else ''}")
    elif args.user_command == "list":
        listed = await accounts.accounts()
        slack: dict[str, list[str]] = {}
        for person, name in await accounts.store.slack_links():
            slack.setdefault(name, []).append(person)
        rows = [
            (a.name, _yes(a.admin), isoformat(a.created_at), " ".join(slack.get(a.name, [])))
            for a in listed
        ]
        _table(("NAME", "ADMIN", "CREATED", "SLACK"), rows)
    elif args.user_command == "link-slack":
        person = await acting.link(accounts.store, args.name, args.team, args.user)
        print(f"{person} now acts as {args.name.strip().lower()}")
    elif args.user_command == "unlink-slack":
        person = await acting.unlink(accounts.store, args.team, args.user)
        print(f"{person} unlinked; it acts as itself again")
    elif args.user_command == "remove":
        revoked = await accounts.remove(args.name)
        print(f"account {args.name.strip().lower()} removed; {len(revoked)} token(s) revoked")
    else:
        await accounts.set_password(args.name, password)
        print(f"password of {args.name.strip().lower()} changed")
    return 0


async def _token(settings: Settings, tokens: TokenService, args: argparse.Namespace) -> int:
    from backend.auth import load_secret, parse_ttl
    from backend.people.model import CLI, LIVE

    if args.token_command == "create":
        ttl = parse_ttl(args.ttl)
        tokens.secret = load_secret(settings)
        token, record = await tokens.issue(args.sub, admin=args.admin, ttl=ttl, kind=CLI)
        admin = " (admin)" if args.admin else ""
        print(f"token {record.id} for {args.sub}{admin}, valid {args.ttl}: {token}")
    elif args.token_command == "list":
        now = utcnow()
        records = await tokens.store.list_tokens(principal=args.principal, limit=10_000)
        shown = [r for r in records if args.all or r.state(now) == LIVE]
        rows = [
            (r.id, r.principal, r.kind, _yes(r.admin), r.state(now), isoformat(r.expires_at))
            for r in shown
        ]
        _table(("ID", "PRINCIPAL", "KIND", "ADMIN", "STATUS", "EXPIRES"), rows)
    else:
        record = await tokens.revoke_id(args.id)
        if record is None:
            print(f"error: no token {args.id!r}", file=sys.stderr)
            return 1
        print(f"token {record.id} of {record.principal} revoked")
    return 0


@contextlib.asynccontextmanager
async def _people(settings: Settings) -> AsyncIterator[tuple[AccountService, TokenService]]:
    from backend.data_dir import prepare as prepare_data_dir
    from backend.people.parts import build_people
    from backend.store.sqlalchemy import SQLStore

    prepare_data_dir(settings)
    store = SQLStore(settings.resolved_database_url)
    try:
        await store.initialize()
        accounts, tokens = build_people(settings, store)
        try:
            yield accounts, tokens
        finally:
            await accounts.aclose()
            await tokens.aclose()
    finally:
        await store.close()


def _wants_password(args: argparse.Namespace) -> bool:
    return args.command == "user" and args.user_command in ("add", "passwd")


def _password(args: argparse.Namespace) -> str:
    """From stdin (one line), or asked twice at the terminal; checked before any work."""
    from backend.people.passwords import check_rules

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Password again: ") != password:
            raise InvalidInput("the passwords differ")
    check_rules(password)
    return password


def _yes(flag: bool) -> str:
    return "yes" if flag else ""


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=False)]
    for row in (header, *rows):
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
