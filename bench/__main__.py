"""``make bench``: run every scenario that exists, each printing its figures (and ratios from one run).

P1 transport (GraphQL vs plain Litestar), P2 booking contention (bench/booking.py; the same through the
API: bench/booking_api.py), P3 upstream at 300 ms latency (bench/p3_upstream.py), notifications
throughput (bench/notifications.py), P4 subscription fan-out (bench/p4_fanout.py), P5 memory per 1,000
connections (bench/p5_memory.py), vault upload/download throughput (bench/vault.py), pharmacy availability
with the ЛЛО system at 300 ms (bench/drugs.py), the ambulance live path (bench/ambulance.py; its delivery alone,
in-process: bench/ambulance_live.py), the websocket floor of this machine (bench/ws_floor.py).
"""

from __future__ import annotations

import importlib
import sys
import traceback

SCENARIOS: tuple[tuple[str, str], ...] = (
    ("P1", "bench.p1_transport"),
    ("P2", "bench.booking"),
    ("P2 API", "bench.booking_api"),
    ("P3", "bench.p3_upstream"),
    ("notifications", "bench.notifications"),
    ("P4", "bench.p4_fanout"),
    ("P5", "bench.p5_memory"),
    ("vault", "bench.vault"),
    ("drugs", "bench.drugs"),
    ("ambulance", "bench.ambulance"),
    ("ambulance live", "bench.ambulance_live"),
    ("websocket floor", "bench.ws_floor"),
)
NOT_BUILT: tuple[str, ...] = ()


def main() -> int:
    failed = 0
    for label, module_name in SCENARIOS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            print(f"{label}: not built yet ({module_name})", flush=True)
            continue
        try:
            module.main()
        except Exception:
            failed += 1
            print(f"{label}: FAILED", flush=True)
            traceback.print_exc()
    for name in NOT_BUILT:
        print(f"{name}: not built yet", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
