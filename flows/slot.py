"""A context-local provider slot: the runner installs one, standalone code gets a default.

Used by `flows.llm` and `flows.images` so that tests and the server pass providers in
explicitly instead of patching module globals.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Generic, TypeVar

T = TypeVar("T")


class ProviderSlot(Generic[T]):
    def __init__(self, name: str, make_default: Callable[[], T]) -> None:
        self._var: ContextVar[T | None] = ContextVar(name, default=None)
        self._make_default = make_default
        self._default: T | None = None

    def get(self) -> T:
        value = self._var.get()
        if value is not None:
            return value
        if self._default is None:
            self._default = self._make_default()
        return self._default

    @contextlib.contextmanager
    def use(self, provider: T) -> Iterator[T]:
        token = self._var.set(provider)
        try:
            yield provider
        finally:
            self._var.reset(token)
