"""The adapters of the care domains built after the first ones (insurance's ЕРЗЛ, drugs' ЛЛО, the ambulance's
СМП feed and live bus, vaccination's immunization register), and the plumbing every adapter shares: a base of
:class:`backend.adapters.Adapters`, split off by concern (see that module's docstring for each field)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx
from litestar import Litestar
from redis.asyncio import Redis

from backend.adapter_builders import SimulatorHandle, build_drugs_cache, build_llo, build_smp
from backend.ambulance.live import AmbulanceBus, InProcessAmbulanceBus, RedisAmbulanceBus
from backend.booking.cache import SwrCache
from backend.core.clock import Clock, wall_clock
from backend.settings import Profile, Settings
from integrations.common.http import build_http_client, is_inprocess
from integrations.demo_region import RegionScale, get_region
from integrations.erzl import ErzlClient, InsuranceRegister
from integrations.erzl.simulator import create_erzl_simulator
from integrations.immunization import ImmunizationClient, ImmunizationRegister
from integrations.immunization.simulator import create_immunization_simulator
from integrations.llo import ClinicRequests, DrugRegistry
from integrations.smp import SmpDispatch

if TYPE_CHECKING:
    from backend.runtime import Runtime


class AdapterBase:
    """What every adapter property leans on: the runtime's settings, the clock, and what to close."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._clock: Clock | None = None
        self._owned: list[Any] = []  # everything built or replaced here, closed with the runtime

    @property
    def _settings(self) -> Settings:
        return self._runtime.settings

    def _own(self, thing: Any) -> None:
        if thing is not None and all(thing is not owned for owned in self._owned):
            self._owned.append(thing)

    @property
    def clock(self) -> Clock:
        return self._clock if self._clock is not None else wall_clock

    @clock.setter
    def clock(self, clock: Clock | None) -> None:
        self._clock = clock

    def _sim_clock(self) -> Any:
        return self.clock()


class CareUpstreams(AdapterBase):
    """The ЕРЗЛ, the ЛЛО (with the clinic's requests and the pharmacy stock cache), the СМП feed and the
    ambulance's live bus, the immunization register: real or simulated, built on first use."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime)
        self._erzl: InsuranceRegister | None = None
        self._erzl_simulator: Litestar | None = None
        self._smp: SmpDispatch | None = None
        self._smp_simulator: Litestar | None = None
        self._ambulance_bus: AmbulanceBus | None = None
        self._immunization: ImmunizationRegister | None = None
        self._immunization_simulator: Litestar | None = None
        self._llo: DrugRegistry | None = None
        self._clinic_requests: ClinicRequests | None = None
        self._llo_simulator: Litestar | None = None
        self._drugs_cache: SwrCache | None = None
        #: The ambulance webhook the in-process СМП simulator pushes to: ``(body, signature) -> (status, body)``.
        self.smp_push: Callable[[bytes, str | None], Awaitable[tuple[int, bytes]]] | None = None
        #: The vaccination certificates' signing key (``backend.vaccination.keys`` fills it on first use).
        self.vaccination_keys: Any = None

    def _forget_care(self) -> None:
        self._erzl = self._erzl_simulator = None
        self._smp = self._smp_simulator = self._ambulance_bus = None
        self._llo = self._clinic_requests = self._llo_simulator = self._drugs_cache = None
        self._immunization = self._immunization_simulator = None

    # -- the ЕРЗЛ / insurer upstream (insurance)

    @property
    def erzl(self) -> InsuranceRegister:
        if self._erzl is None:
            settings = self._settings
            simulator: Litestar | None = None
            if is_inprocess(settings.erzl_url):
                region = get_region(settings.demo_seed, RegionScale(settings.demo_scale))
                # The demo's register decides insurer changes by itself: a minute to accept, two to complete.
                demo = settings.profile is Profile.EMBEDDED
                simulator = create_erzl_simulator(
                    region,
                    token=settings.erzl_token,
                    clock=self._sim_clock,
                    auto_process=timedelta(minutes=1) if demo else None,
                    auto_complete=timedelta(minutes=2) if demo else None,
                    auto_answer=timedelta(minutes=2) if demo else None,
                )
            app = simulator
            http = build_http_client(
                settings.erzl_url, simulator_app=(lambda: app) if app else None, timeout_s=settings.upstream_timeout_s
            )
            self.set_erzl(
                ErzlClient(http, token=settings.erzl_token, timeout_s=settings.upstream_timeout_s),
                http=http,
                simulator=simulator,
            )
        assert self._erzl is not None
        return self._erzl

    @erzl.setter
    def erzl(self, register: InsuranceRegister) -> None:
        self.set_erzl(register)

    def set_erzl(
        self, register: InsuranceRegister, *, http: httpx.AsyncClient | None = None, simulator: Litestar | None = None
    ) -> None:
        self._own(register)
        self._own(http)
        self._erzl = register
        if simulator is not None:
            self._erzl_simulator = simulator

    @property
    def erzl_simulator(self) -> Litestar | None:
        """The in-process ЕРЗЛ simulator behind the adapter (None for a real service)."""
        self.erzl  # noqa: B018 - builds it
        return self._erzl_simulator

    # -- preferential drugs (ЛЛО), the clinic's requests, the pharmacy stock cache

    def _build_llo(self) -> None:
        llo, mis, clients, simulator = build_llo(self._runtime)
        for thing in (llo, mis, *clients):
            self._own(thing)
        self._llo, self._clinic_requests = self._llo or llo, self._clinic_requests or mis
        self._llo_simulator = self._llo_simulator or simulator

    @property
    def llo(self) -> DrugRegistry:
        if self._llo is None:
            self._build_llo()
        assert self._llo is not None
        return self._llo

    @llo.setter
    def llo(self, registry: DrugRegistry) -> None:
        self._own(registry)
        self._llo = registry

    @property
    def clinic_requests(self) -> ClinicRequests:
        if self._clinic_requests is None:
            self._build_llo()
        assert self._clinic_requests is not None
        return self._clinic_requests

    @property
    def llo_simulator(self) -> Litestar | None:
        if self._llo is None or self._clinic_requests is None:
            self._build_llo()
        return self._llo_simulator

    @property
    def drugs_cache(self) -> SwrCache:
        if self._drugs_cache is None:
            self._drugs_cache = build_drugs_cache(self._runtime)
            self._own(self._drugs_cache)
        return self._drugs_cache

    # -- ambulance: the СМП feed and the live bus

    async def _deliver_smp_push(self, body: bytes, headers: Mapping[str, str]) -> int:
        if self.smp_push is None:
            raise RuntimeError("no ambulance webhook is wired into this runtime")
        status, _ = await self.smp_push(body, headers.get("X-Smp-Signature"))
        return status

    @property
    def smp(self) -> SmpDispatch:
        if self._smp is None:
            client, http, app = build_smp(self._runtime, self._deliver_smp_push)
            self._own(http)
            self._own(SimulatorHandle(app) if app is not None else None)
            self._smp, self._smp_simulator = client, app
        return self._smp

    @smp.setter
    def smp(self, dispatch: SmpDispatch) -> None:
        self.set_smp(dispatch)

    def set_smp(self, dispatch: SmpDispatch, *, simulator: Litestar | None = None) -> None:
        self._own(dispatch)
        self._smp = dispatch
        if simulator is not None:
            self._smp_simulator = simulator

    @property
    def smp_simulator(self) -> Litestar | None:
        self.smp  # noqa: B018 - builds it
        return self._smp_simulator

    @property
    def ambulance_bus(self) -> AmbulanceBus:
        if self._ambulance_bus is None:
            redis: Redis | None = self._runtime.redis
            self._ambulance_bus = RedisAmbulanceBus(redis) if redis is not None else InProcessAmbulanceBus()
            self._own(self._ambulance_bus)
        return self._ambulance_bus

    @ambulance_bus.setter
    def ambulance_bus(self, bus: AmbulanceBus) -> None:
        self._own(bus)
        self._ambulance_bus = bus

    # -- the immunization register (vaccination)

    @property
    def immunization(self) -> ImmunizationRegister:
        """The immunization register (history before СЭМД 170, exemptions), real or the in-process simulator."""
        if self._immunization is None:
            settings = self._settings
            simulator: Litestar | None = None
            if is_inprocess(settings.immunization_url):
                region = get_region(settings.demo_seed, RegionScale(settings.demo_scale))
                simulator = create_immunization_simulator(
                    region, token=settings.immunization_token, clock=self._sim_clock
                )
            app = simulator
            http = build_http_client(
                settings.immunization_url,
                simulator_app=(lambda: app) if app else None,
                timeout_s=settings.upstream_timeout_s,
            )
            self._own(http)
            self._immunization = ImmunizationClient(
                http, token=settings.immunization_token, timeout_s=settings.upstream_timeout_s
            )
            self._immunization_simulator = simulator
        return self._immunization

    @immunization.setter
    def immunization(self, register: ImmunizationRegister) -> None:
        self._own(register)
        self._immunization = register

    @property
    def immunization_simulator(self) -> Litestar | None:
        self.immunization  # noqa: B018 - builds it
        return self._immunization_simulator
