"""GENFLOW_SLACK_REVIEWERS as a job's reviewers: who, besides its starter, may decide.

The bot no longer decides who may decide: the API does, with its one rule (the job's
owner, admins, and the review's assignees). The configured Slack users (U…/W…) and the
members of the configured user groups (S…, read with usergroups.users.list when a job
starts) are passed as the job's `reviewers` (`slack:<team>:<user>` principals), so a
click of theirs is allowed by the API like the starter's. Anyone else's is refused.
"""

from __future__ import annotations

import logging
import time

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bots.people import SlackUser

log = logging.getLogger("genflow.slack")
GROUP_TTL = 60.0  # seconds a user group's member list is trusted (the call is Tier 2)
MAX_REVIEWERS = 20  # GenFlow takes at most this many reviewers per job


class Reviewers:
    def __init__(self, client: AsyncWebClient, reviewers: frozenset[str]) -> None:
        self._client = client
        self._users = sorted(r for r in reviewers if not r.startswith("S"))
        self._groups = sorted(r for r in reviewers if r.startswith("S"))
        self._members: dict[str, tuple[float, list[str]]] = {}

    def __bool__(self) -> bool:
        return bool(self._users or self._groups)

    async def of_job(self, starter: SlackUser) -> list[str]:
        """The reviewers of a job `starter` starts now, as principals of their workspace
        (the starter owns the job already, so they are left out)."""
        ids = list(self._users)
        for group in self._groups:
            ids += await self._group_members(group)
        ids = [user for user in dict.fromkeys(ids) if user != starter.user]
        if len(ids) > MAX_REVIEWERS:
            log.warning(
                "GENFLOW_SLACK_REVIEWERS names %d people; GenFlow takes %d per job, so %s "
                "cannot decide this one",
                len(ids),
                MAX_REVIEWERS,
                ", ".join(ids[MAX_REVIEWERS:]),
            )
        return [SlackUser(starter.team, user).principal for user in ids[:MAX_REVIEWERS]]

    async def _group_members(self, group: str) -> list[str]:
        cached = self._members.get(group)
        if cached and time.monotonic() - cached[0] < GROUP_TTL:
            return cached[1]
        try:
            response = await self._client.usergroups_users_list(usergroup=group)
            members = [str(u) for u in response.get("users") or []]
        except SlackApiError as exc:
            log.warning("cannot list user group %s: %s", group, exc.response.get("error"))
            members = cached[1] if cached else []
        self._members[group] = (time.monotonic(), members)
        return members
