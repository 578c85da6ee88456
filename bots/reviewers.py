"""Who may decide a job's review from Slack.

The person who started the job always may. GENFLOW_SLACK_REVIEWERS widens it: Slack user
ids (U…/W…), user group ids (S…, members looked up with usergroups.users.list), or `*`
for anyone who can see the message.
"""

from __future__ import annotations

import logging
import time

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger("genflow.slack")
GROUP_TTL = 60.0  # seconds a user group's member list is trusted


class Reviewers:
    def __init__(self, client: AsyncWebClient, reviewers: frozenset[str]) -> None:
        self._client = client
        self._users = {r for r in reviewers if not r.startswith("S")}
        self._groups = sorted(r for r in reviewers if r.startswith("S"))
        self._members: dict[str, tuple[float, frozenset[str]]] = {}

    async def may_decide(self, user: str, starter: str | None) -> bool:
        if user == starter or "*" in self._users or user in self._users:
            return True
        for group in self._groups:
            if user in await self._group_members(group):
                return True
        return False

    async def _group_members(self, group: str) -> frozenset[str]:
        cached = self._members.get(group)
        if cached and time.monotonic() - cached[0] < GROUP_TTL:
            return cached[1]
        try:
            response = await self._client.usergroups_users_list(usergroup=group)
            members = frozenset(response.get("users") or [])
        except SlackApiError as exc:
            log.warning("cannot list user group %s: %s", group, exc.response.get("error"))
            members = cached[1] if cached else frozenset()
        self._members[group] = (time.monotonic(), members)
        return members
