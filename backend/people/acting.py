"""Acting for a person: how the Slack bot's admin token speaks for the Slack user who
clicked, so the API's one rule (whose jobs, who may decide, whose rate limit) applies
to that person and not to the bot.

Only an admin token may act for someone, and only for a Slack principal
(`slack:<team>:<user>`): an account never passes for another account this way. A Slack
user linked to an account (`genflow user link-slack`) acts as that account, with its
admin flag, and keeps the Slack principal as an alias (reviews assigned to it are theirs).
"""

from __future__ import annotations

import logging
import re

from backend.auth import Principal
from backend.domain import utcnow
from backend.errors import Forbidden, InvalidInput, NotFound
from backend.people.model import account_name
from backend.store.base import PeopleStore

log = logging.getLogger(__name__)

HEADER = "X-GenFlow-On-Behalf-Of"
SLACK_ID = re.compile(r"^[A-Z0-9]{1,32}$")
SLACK_PRINCIPAL = re.compile(r"^slack:([A-Z0-9]{1,32}):([A-Z0-9]{1,32})$")


def slack_principal(team: str, user: str) -> str:
    """`slack:<team>:<user>` from Slack's ids (T…/E… and U…/W…), or InvalidInput."""
    team, user = team.strip().upper(), user.strip().upper()
    if not SLACK_ID.match(team) or not SLACK_ID.match(user):
        raise InvalidInput(
            "Slack team and user ids are letters and digits, like T024BE7LD and U012AB3CD",
            [{"field": "slack", "message": "not a Slack id"}],
        )
    return f"slack:{team}:{user}"


async def act_for(store: PeopleStore, caller: Principal, person: str) -> Principal:
    """The principal `caller` (an admin token) acts for."""
    if not caller.admin:
        raise Forbidden(f"only an admin token may act for someone ({HEADER})")
    if not SLACK_PRINCIPAL.match(person):
        raise InvalidInput(
            f"{HEADER} must name a Slack user as slack:<team>:<user>",
            [{"field": HEADER, "message": "use slack:T…:U…"}],
        )
    name = await store.linked_account(person)
    account = await store.get_account(name) if name else None
    if account is None:  # not linked (or the account went: the link went with it)
        return Principal(sub=person, token_id=caller.token_id, agent=caller.sub)
    return Principal(
        sub=account.name,
        admin=account.admin,
        token_id=caller.token_id,
        aliases=frozenset({person}),
        agent=caller.sub,
    )


async def link(store: PeopleStore, name: str, team: str, user: str) -> str:
    """Link a Slack user to an account; the Slack principal linked."""
    person = slack_principal(team, user)
    await store.link_slack(person, account_name(name), utcnow())
    log.info("%s linked to account %s", person, name)
    return person


async def unlink(store: PeopleStore, team: str, user: str) -> str:
    person = slack_principal(team, user)
    if not await store.unlink_slack(person):
        raise NotFound(f"{person} is not linked to an account")
    log.info("%s unlinked", person)
    return person


async def with_linked_accounts(store: PeopleStore, principals: list[str]) -> list[str]:
    """The principals, each Slack one followed by the account it is linked to: a review
    assigned to a Slack user is then theirs on the web too."""
    expanded: list[str] = []
    for principal in principals:
        linked = await store.linked_account(principal) if principal.startswith("slack:") else None
        expanded.extend(p for p in (principal, linked) if p and p not in expanded)
    return expanded
