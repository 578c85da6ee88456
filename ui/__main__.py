"""`python -m ui`: the GenFlow web chat (what `genflow ui` runs)."""

from ui.app import main

raise SystemExit(main())
