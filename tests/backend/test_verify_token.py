"""Token checks are cached by token, but never past the token's expiry or secret."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from backend import auth
from backend.errors import Unauthorized

SECRET = "s" * 32


def test_a_verified_token_is_refused_once_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    token = auth.issue_token(SECRET, "alice", ttl=timedelta(minutes=5), jti="t1")
    first = auth.verify_token(SECRET, token)
    assert auth.verify_token(SECRET, token) == first and first.sub == "alice"
    later = time.time() + 301
    monkeypatch.setattr(auth.time, "time", lambda: later)
    with pytest.raises(Unauthorized, match="expired"):
        auth.verify_token(SECRET, token)


def test_a_token_verified_under_one_secret_is_not_valid_under_another() -> None:
    token = auth.issue_token(SECRET, "alice", ttl=timedelta(minutes=5), jti="t1")
    auth.verify_token(SECRET, token)
    with pytest.raises(Unauthorized, match="not valid"):
        auth.verify_token("t" * 32, token)


def test_the_cache_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "VERIFIED_CACHE", 3)
    monkeypatch.setattr(auth, "_verified", {})
    ttl = timedelta(minutes=5)
    tokens = [auth.issue_token(SECRET, f"u{i}", ttl=ttl, jti=f"t{i}") for i in range(5)]
    for token in tokens:
        auth.verify_token(SECRET, token)
    assert len(auth._verified) <= 3
    assert [auth.verify_token(SECRET, t).sub for t in tokens] == [f"u{i}" for i in range(5)]
