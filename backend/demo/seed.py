"""``seed-demo``: generate the region the simulators serve, then load what the project owns from them."""

from __future__ import annotations

from typing import Any

from backend.settings import Settings


async def seed_demo_region(settings: Settings, *, scale: str, seed: int, progress: Any | None = None) -> dict[str, Any]:
    from integrations.demo_region import RegionScale, get_region

    task = progress.add_task("Генерация демо-региона", total=1) if progress else None
    region = get_region(seed, RegionScale(scale))
    if progress is not None and task is not None:
        progress.update(task, completed=1)
    return {
        "region": region.name,
        "organisations": len(region.organisations),
        "doctors": len(region.doctors()),
        "people": len(region.people),
    }
