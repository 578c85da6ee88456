"""Every event type, setting and route is documented (Datasette's habit)."""

from __future__ import annotations

import re
from pathlib import Path

from backend.events import EventType

ROOT = Path(__file__).parent.parent
DOCS = "\n".join(p.read_text() for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])


def test_every_event_type_is_documented() -> None:
    missing = [t.value for t in EventType if f"`{t.value}`" not in DOCS]
    assert not missing


def test_every_setting_is_documented() -> None:
    source = (ROOT / "backend" / "settings.py").read_text()
    names = set(re.findall(r'"(GENFLOW_[A-Z_]+)"', source))
    assert names, "no settings found"
    missing = sorted(n for n in names if n not in DOCS)
    assert not missing


def test_every_route_is_documented() -> None:
    routes = set()
    for module in (ROOT / "backend" / "api").glob("*.py"):
        routes |= set(
            re.findall(r'\.(?:get|post|delete|websocket)\("([^"]+)"', module.read_text())
        )
    documented = {r for r in routes if re.sub(r"<[a-z_]+>", "{id}", r) in DOCS}
    assert routes - documented == set()
