"""``seed-demo``: generate the region the simulators serve, then load what the project owns from them.

The region itself lives in the simulators (as the upstreams' own data); the project's database gets
only what it owns in production too: the directory synced from the booking hub, and the demo staff
and kiosk accounts of the identity domain, and the demo doctor of the documents domain.
"""

from __future__ import annotations

from typing import Any

from backend.demo.people import seed_demo_people
from backend.directory.service import STAGE_LABELS, sync_directory
from backend.documents.seed import seed_demo_documents
from backend.identity.seed import seed_demo_identity
from backend.runtime import Runtime
from backend.settings import Settings
from integrations.demo_region import RegionScale, get_region


async def seed_demo_region(settings: Settings, *, scale: str, seed: int, progress: Any | None = None) -> dict[str, Any]:
    settings = settings.model_copy(update={"demo_scale": scale, "demo_seed": seed})
    region = get_region(seed, RegionScale(scale))
    tasks: dict[str, Any] = {}

    def on_progress(stage: str, done: int, total: int) -> None:
        if progress is None:
            return
        if stage not in tasks:
            tasks[stage] = progress.add_task(STAGE_LABELS.get(stage, stage), total=total)
        progress.update(tasks[stage], completed=done, total=total)

    runtime = Runtime.build(settings)
    try:
        summary = await sync_directory(runtime, progress=on_progress)
        identity = await seed_demo_identity(runtime)
        people = await seed_demo_people(runtime, list(region.people))
        documents = await seed_demo_documents(runtime)
    finally:
        await runtime.close()
    return {
        "region": region.name,
        "scale": scale,
        "people": len(region.people),
        "directory": {
            name: getattr(summary, name).__dict__ for name in ("districts", "organisations", "specialties", "doctors")
        },
        "failures": len(summary.failures),
        "identity": identity,
        # Who to try: an operator or a kiosk finds them by policy (or SNILS) and birth date; the ESIA
        # simulator's login page lists the adults; the SMS they "receive" are at GET /dev/sms.
        "demo_people": people,
        "documents": documents,
    }
