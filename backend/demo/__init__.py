"""The seeded demo region for ``make run``: generated for the simulators, loaded through them."""

from backend.demo.seed import seed_demo_region

__all__ = ["seed_demo_region"]
