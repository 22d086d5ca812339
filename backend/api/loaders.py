"""A DataLoader registry, created per request, so that batching never leaks data between requests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

BatchFn = Callable[[Sequence[K]], Awaitable[Sequence[V | BaseException]]]


class LoaderRegistry:
    def __init__(self) -> None:
        self._loaders: dict[Hashable, DataLoader[Any, Any]] = {}

    def get(
        self, key: Hashable, batch: Callable[[list[K]], Awaitable[Sequence[V | BaseException]]]
    ) -> DataLoader[K, V]:
        """The request's loader for ``key``, created from ``batch`` on first use."""
        loader = self._loaders.get(key)
        if loader is None:
            loader = DataLoader(load_fn=batch)
            self._loaders[key] = loader
        return loader
