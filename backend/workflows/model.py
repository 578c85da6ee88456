"""A stored workflow: the current version of a person's spec, and how it came to be."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from backend.domain import isoformat


@dataclass
class Workflow:
    id: str
    owner: str
    name: str
    description: str
    version: int
    spec: dict[str, Any]
    validation: dict[str, Any]
    source: str  # hand, model, repaired, template
    created_at: datetime
    updated_at: datetime
    generation: dict[str, Any] | None = None  # intent, template, rounds, estimates

    def to_json(self) -> dict[str, Any]:
        return {
            "workflow_id": self.id,
            "owner": self.owner,
            "version": self.version,
            "source": self.source,
            "workflow": self.spec,
            "validation": self.validation,
            "generation": self.generation,
            "created_at": isoformat(self.created_at),
            "updated_at": isoformat(self.updated_at),
        }
