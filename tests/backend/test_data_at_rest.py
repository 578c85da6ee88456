"""The data dir at rest and on first start: private modes, the first admin account, and
an admin.token from before tokens had ids issued again.

Only GenFlow's user may read the data dir: the dir is 0700 and the database (with its
WAL and shared-memory files), the secret, admin.token and admin.password are 0600, on a
fresh dir and on one an older GenFlow left readable (tightened, with a log line).
"""

from __future__ import annotations

import logging
import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from backend.auth import issue_token
from tests.harness import running_app

PRIVATE_FILES = ["genflow.db", "genflow.db-wal", "genflow.db-shm", "secret", "admin.token",
                 "admin.password"]  # fmt: skip


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_a_fresh_data_dir_is_private_and_has_a_first_admin(tmp_path: Path) -> None:
    data = tmp_path / "fresh"
    async with running_app(data) as h:
        # while the server runs the WAL and shared-memory files exist too
        assert mode(data) == 0o700
        assert {name: mode(data / name) for name in PRIVATE_FILES} == dict.fromkeys(
            PRIVATE_FILES, 0o600
        )
        password = (data / "admin.password").read_text().strip()
        response = await h.client.post(
            "/api/auth/login", json={"username": "admin", "password": password}
        )
        assert response.status_code == 200
        assert (await response.get_json())["admin"] is True
        assert [a.name for a in await h.services.accounts.accounts()] == ["admin"]


async def test_a_second_start_keeps_the_admin_and_its_token(tmp_path: Path) -> None:
    async with running_app(tmp_path):
        pass
    password = (tmp_path / "admin.password").read_text()
    token = (tmp_path / "admin.token").read_text()
    async with running_app(tmp_path) as h:
        assert len(await h.services.accounts.accounts()) == 1
    assert (tmp_path / "admin.password").read_text() == password
    assert (tmp_path / "admin.token").read_text() == token


async def test_no_first_admin_when_accounts_exist(tmp_path: Path) -> None:
    async with running_app(tmp_path) as h:
        await h.services.accounts.remove("admin")  # forgets admin.password too
        await h.services.accounts.add("bob", "a long enough password")
    assert not (tmp_path / "admin.password").exists()
    async with running_app(tmp_path) as h:
        assert [a.name for a in await h.services.accounts.accounts()] == ["bob"]
    assert not (tmp_path / "admin.password").exists()


async def test_a_readable_data_dir_is_tightened_with_a_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_app(tmp_path):
        pass
    os.chmod(tmp_path, 0o755)  # what GenFlow before this change left behind
    for name in ("genflow.db", "secret", "admin.token", "admin.password"):
        os.chmod(tmp_path / name, 0o644)
    caplog.set_level(logging.WARNING, logger="backend.data_dir")
    async with running_app(tmp_path):
        assert mode(tmp_path) == 0o700
        for name in PRIVATE_FILES:
            assert mode(tmp_path / name) == 0o600, name
    tightened = [r.getMessage() for r in caplog.records if "tightened" in r.getMessage()]
    assert any(f"{tmp_path} from 0755 to 0700" in line for line in tightened)
    assert any(f"{tmp_path / 'secret'} from 0644 to 0600" in line for line in tightened)
    assert len(tightened) == 5


async def test_an_admin_token_from_before_token_ids_is_issued_again(tmp_path: Path) -> None:
    secret = "a-secret-that-is-long-enough-for-hs256-0123456789"
    old = issue_token(secret, "admin", admin=True, ttl=timedelta(days=365))  # no jti
    (tmp_path / "admin.token").write_text(old + "\n")
    async with running_app(tmp_path, secret=secret) as h:
        new = (tmp_path / "admin.token").read_text().strip()
        assert new != old and new == h.services.admin_token
        for token, status in [(new, 200), (old, 401)]:
            response = await h.client.get("/api/jobs", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == status
    assert mode(tmp_path / "admin.token") == 0o600
