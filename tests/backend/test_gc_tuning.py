"""The server's garbage-collector settings (backend/gc_tuning.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from backend import gc_tuning
from backend.settings import Settings


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.set_threshold(*threshold)
    gc.unfreeze()


def test_the_first_threshold_is_raised_and_the_older_generations_keep_theirs(
    restored_gc: None,
) -> None:
    gc.set_threshold(700, 10, 10)
    gc_tuning.raise_threshold(10_000)
    assert gc.get_threshold() == (10_000, 10, 10)


def test_zero_leaves_pythons_own_threshold(restored_gc: None) -> None:
    gc.set_threshold(700, 10, 10)
    gc_tuning.raise_threshold(0)
    assert gc.get_threshold() == (700, 10, 10)


def test_what_start_up_built_is_kept_out_of_later_collections(restored_gc: None) -> None:
    built_at_start_up = [[] for _ in range(3)]  # containers: objects the collector tracks

    def collected_later(thing: object) -> bool:
        return any(tracked is thing for tracked in gc.get_objects())

    assert collected_later(built_at_start_up)
    gc_tuning.freeze_startup()
    assert not collected_later(built_at_start_up)
    assert gc.get_freeze_count() > len(built_at_start_up)
    made_after = [[]]
    assert collected_later(made_after)


def test_the_threshold_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.from_env().gc_threshold == 10_000
    monkeypatch.setenv("GENFLOW_GC_THRESHOLD", "0")
    assert Settings.from_env().gc_threshold == 0
