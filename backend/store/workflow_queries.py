"""The SQL of pilot workflows, in the style of `queries`: plain synchronous functions of one
`Connection`, each run by `SQLStore` as one transaction.

Every version of a spec is kept (`workflow_versions`), so an execution can say which one
it ran and a PUT never loses the spec it replaces. `update_workflow` is a compare-and-set
on `version`: of two editors holding the same version, one wins and the other gets None.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from backend.domain import Job
from backend.store import tables as t
from backend.store.queries import aware, to_job
from backend.workflows.model import Workflow

FIELDS = tuple(f.name for f in fields(Workflow))
_w = t.workflows.c


def _bound(values: dict[str, Any]) -> dict[str, Any]:
    """Datetimes in UTC (SQLite keeps them as text without an offset)."""
    return {k: aware(v) if isinstance(v, datetime) else v for k, v in values.items()}


def create_workflow(conn: Connection, workflow: Workflow) -> Workflow:
    """Insert it; if a workflow with its id exists already, that one (a generated
    workflow is stored by whichever comes first: the runner or the waiting request)."""
    values = _bound({name: getattr(workflow, name) for name in FIELDS})
    try:
        with conn.begin_nested():  # a savepoint: a lost race must not abort the transaction
            conn.execute(insert(t.workflows).values(values))
    except IntegrityError:
        existing = get_workflow(conn, workflow.id)
        if existing is None:
            raise
        return existing
    _add_version(conn, workflow.id, workflow.version, workflow.spec, workflow.created_at)
    return workflow


def _add_version(
    conn: Connection, workflow_id: str, version: int, spec: dict[str, Any], at: datetime
) -> None:
    conn.execute(
        insert(t.workflow_versions).values(
            _bound({"workflow_id": workflow_id, "version": version, "spec": spec, "created_at": at})
        )
    )


def get_workflow(conn: Connection, workflow_id: str) -> Workflow | None:
    row = conn.execute(select(t.workflows).where(_w.id == workflow_id)).mappings().first()
    return to_workflow(row) if row is not None else None


def list_workflows(
    conn: Connection, *, owner: str | None, limit: int, before: str | None
) -> list[Workflow]:
    query = select(t.workflows).order_by(_w.id.desc()).limit(limit)
    if owner is not None:
        query = query.where(_w.owner == owner)
    if before is not None:
        query = query.where(_w.id < before)
    return [to_workflow(row) for row in conn.execute(query).mappings().all()]


def update_workflow(
    conn: Connection, workflow_id: str, version: int, changes: Mapping[str, Any]
) -> Workflow | None:
    """A new version of the spec (and its validation), if `version` is still current."""
    values = _bound({**changes, "version": version + 1})
    query = (
        update(t.workflows)
        .where(_w.id == workflow_id, _w.version == version)
        .values(values)
        .returning(*t.workflows.c)
    )
    row = conn.execute(query).mappings().first()
    if row is None:
        return None
    workflow = to_workflow(row)
    _add_version(conn, workflow.id, workflow.version, workflow.spec, workflow.updated_at)
    return workflow


def delete_workflow(conn: Connection, workflow_id: str) -> bool:
    conn.execute(
        delete(t.workflow_versions).where(t.workflow_versions.c.workflow_id == workflow_id)
    )
    return conn.execute(delete(t.workflows).where(_w.id == workflow_id)).rowcount > 0


def workflow_jobs(
    conn: Connection, workflow_id: str, *, flow: str, limit: int, before: str | None
) -> list[Job]:
    """A workflow's jobs of one flow (its executions; its generation), newest first."""
    jobs = t.jobs.c
    query = (
        select(t.jobs)
        .where(jobs.workflow_id == workflow_id, jobs.flow == flow)
        .order_by(jobs.id.desc())
    )
    if before is not None:
        query = query.where(jobs.id < before)
    return [to_job(conn, row) for row in conn.execute(query.limit(limit)).mappings().all()]


def to_workflow(row: Mapping[str, Any]) -> Workflow:
    values = {name: row[name] for name in FIELDS}
    values["created_at"], values["updated_at"] = aware(row["created_at"]), aware(row["updated_at"])
    return Workflow(**values)
