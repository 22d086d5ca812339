"""The ETA: the straight-line distance to the patient × a calibrated minutes-per-kilometre factor.

Why not a road graph: the demo region has no road network (only the coordinates of its stations, clinics and
people), and a real one would be a dependency of its own (OSRM, a routing service) with nothing in this
project to feed it. The straight line under-states a road route by a detour factor that is stable for a
district (1.2–1.5 in published studies of road networks); brigades' average speed is stable too. So one
number, minutes per straight-line kilometre, carries both: ``eta = remaining straight-line km × factor``,
never below a minute while the brigade is not there.

Calibration: the factor is the median over the last :data:`CALIBRATION_CALLS` calls that arrived of
``(arrival − departure) / straight-line km at departure``; until :data:`MIN_CALLS` such calls exist the
default (:data:`DEFAULT_MIN_PER_KM`: a 1.35 detour at 40 km/h) is used. Each prediction is kept beside the
actual arrival (``ambulance_predictions``), which is what the calibration and the KPI read.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

DEFAULT_MIN_PER_KM = 1.35 * 60 / 40  # ≈ 2.0
MIN_CALLS = 5
CALIBRATION_CALLS = 200
#: A ratio outside this range is a data error (a call recorded as arrived at departure, a position jump).
_SANE = (0.5, 10.0)


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(min(1.0, a)))


def calibrate(samples: Sequence[tuple[float, float]]) -> float:
    """Minutes per straight-line km from (travel minutes, straight-line km at departure) of past calls."""
    ratios = [m / km for m, km in samples if km >= 0.3 and _SANE[0] <= m / km <= _SANE[1]]
    if len(ratios) < MIN_CALLS:
        return DEFAULT_MIN_PER_KM
    return float(statistics.median(ratios))


def eta_minutes(lat: float, lon: float, to_lat: float, to_lon: float, min_per_km: float) -> int:
    """Whole minutes to (to_lat, to_lon): at least 1 unless within 50 m."""
    km = distance_km(lat, lon, to_lat, to_lon)
    if km < 0.05:
        return 0
    return max(1, math.ceil(km * min_per_km))
