"""`python -m bots`: run the Slack bot (what `genflow slack` runs)."""

from bots.slack import main

raise SystemExit(main())
