"""GenFlow's chat surfaces. `bots.slack` is the Slack bot; it reaches GenFlow only
through `backend.client` (HTTP), like any other client of the API."""
