"""Who a Slack user is to GenFlow: the principal `slack:<team>:<user>` the bot acts for.

Every API call made for a Slack user goes through `GenFlowClient.acting_for(principal)`,
so the API (not the bot) decides whose jobs they see and which reviews they may decide.
The team is the workspace the request came from: a slash command's `team_id`, an
interaction's `team.id` (`user.team_id` only when `team` is absent: in an Enterprise
organization it names the organization, not the workspace, and the same person must get
the same principal from a command and from a click).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bots.markdown import escape

DEADLINE_BY = "genflow"  # the name GenFlow records a passed deadline's decision under


@dataclass(frozen=True)
class SlackUser:
    team: str  # T… (the workspace)
    user: str  # U… / W…

    @property
    def principal(self) -> str:
        return f"slack:{self.team}:{self.user}"


def from_command(body: dict[str, Any]) -> SlackUser:
    """The person who typed a slash command."""
    return SlackUser(str(body.get("team_id") or ""), str(body["user_id"]))


def from_interaction(body: dict[str, Any]) -> SlackUser:
    """The person who clicked, chose or submitted (block_actions, view_submission)."""
    user = body["user"]
    team = (body.get("team") or {}).get("id") or user.get("team_id") or ""
    return SlackUser(str(team), str(user["id"]))


def slack_user_id(principal: str | None) -> str | None:
    """`slack:T1:U1` -> `U1` (and the older `slack:U1`); None for anyone else."""
    if not principal or not principal.startswith("slack:"):
        return None
    return principal.rsplit(":", 1)[1] or None


def mention(principal: str | None) -> str:
    """A principal as Slack shows it: a Slack user as `<@U…>` (rendered as @name), the
    deadline as GenFlow, an account by its name."""
    if not principal:
        return "someone"
    user = slack_user_id(principal)
    if user is not None:
        return f"<@{user}>"
    return "GenFlow" if principal == DEADLINE_BY else escape(principal)
