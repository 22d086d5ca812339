"""Simulator of the patient-side ИЭМК / РЭМД contract (:mod:`integrations.iemk.protocol`) over a demo region.

``create_iemk_simulator(region)`` returns a Litestar ASGI app serving the contract under
``/iemk/api/v1`` plus the MIS side of registration (``POST /iemk/api/v1/registrations``) and a scenario
admin (``POST /iemk/scenario/documents``, ``POST /iemk/scenario/corrupt``). Its state,
:class:`IemkSimulatorState` (``app.state.simulator`` or :func:`simulator_state`), holds:

* for every demo person, the documents of :func:`integrations.iemk.demo.demo_documents` (built on
  first use, byte-identical for a seed), registered with ``REMD-`` numbers;
* detached CMS signatures made on first request by a test RSA key per doctor and per organisation
  (self-signed certificates naming them; ``signer_factory`` replaces that, e.g. with a GOST hook);
* asynchronous registrations: a submitted document is ``accepted`` at once and, when the simulator's
  clock passes ``accepted_at + delay``, becomes ``registered`` (visible to the patient, with a registry
  number) or ``rejected`` (its errors: the XSD and header rules, the signatures, the patient, or the
  errors a scenario forces). :meth:`IemkSimulatorState.register_document` is the hook that makes the
  region's MIS submit a new document for a person.

Faults (:class:`FaultProfile`): ERROR → HTTP 503 with an HTML body, MALFORMED → a truncated JSON body
(also where XML or HTML was due), TIMEOUT → a stall; none of them touches the state.
"""

from __future__ import annotations

import base64
import binascii
import html
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from litestar import Litestar, Request, Response, get, post
from litestar.params import FromPath

from integrations.common.faults import Fault, FaultInjector, FaultProfile
from integrations.common.simulator import simulator_app, state_of
from integrations.demo_region.model import Region
from integrations.iemk.cda import V3, CdaMalformed, parse_cda, parse_xml
from integrations.iemk.protocol import (
    DocumentMetadata,
    Registration,
    RegistrationError,
    SignatureRole,
)
from integrations.iemk.sim_state import (
    BASE_PATH,
    MAX_PAGE_SIZE,
    SCENARIO_PATH,
    IemkSimulatorState,
    SignerFactory,
    _Refused,
)
from integrations.nsi.snapshot import Terminology

# -- JSON ----------------------------------------------------------------------------------------


def metadata_json(meta: DocumentMetadata) -> dict[str, Any]:
    return {
        "registryNumber": meta.registry_number,
        "localUid": meta.local_uid,
        "kind": meta.kind,
        "orgOid": meta.org_oid,
        "createdAt": meta.created_at.isoformat(),
        "author": {"snils": meta.author.snils, "position": meta.author.position, "name": meta.author.name},
        "patientSnils": meta.patient_snils,
        "signatures": [s.value for s in meta.signatures],
        "status": meta.status.value,
        "title": meta.title,
        "orgName": meta.org_name,
        "registeredAt": meta.registered_at.isoformat() if meta.registered_at else None,
    }


def registration_json(reg: Registration) -> dict[str, Any]:
    return {
        "localUid": reg.local_uid,
        "kind": reg.kind,
        "status": reg.status.value,
        "acceptedAt": reg.accepted_at.isoformat(),
        "registryNumber": reg.registry_number,
        "registeredAt": reg.registered_at.isoformat() if reg.registered_at else None,
        "errors": [{"code": e.code, "message": e.message} for e in reg.errors],
    }


def _ok(http_status: int = 200, /, **members: Any) -> Response[Any]:
    return Response(content={"result": "OK", **members}, status_code=http_status, media_type="application/json")


def _error(status: int, code: str, message: str) -> Response[Any]:
    body = {"result": "ERROR", "errors": [{"code": code, "message": message}]}
    return Response(content=body, status_code=status, media_type="application/json")


def _day(params: Mapping[str, Any], name: str) -> date | None:
    raw = params.get(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        raise _Refused(400, "BAD_REQUEST", f"Параметр {name} должен быть датой ГГГГ-ММ-ДД") from None


def _int(params: Mapping[str, Any], name: str, default: int) -> int:
    raw = params.get(name)
    try:
        return int(raw) if raw not in (None, "") else default
    except (TypeError, ValueError):
        raise _Refused(400, "BAD_REQUEST", f"Параметр {name} должен быть целым числом") from None


def list_documents(state: IemkSimulatorState, params: Mapping[str, Any], kinds: Sequence[str]) -> Response[Any]:
    snils, oid = params.get("snils"), params.get("oid")
    if bool(snils) == bool(oid):
        raise _Refused(400, "BAD_REQUEST", "Укажите ровно один параметр: snils или oid")
    person = state.person(snils=snils, esia_oid=oid)
    start, end = _day(params, "from"), _day(params, "to")
    page, size = _int(params, "page", 1), _int(params, "size", 20)
    if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
        raise _Refused(400, "BAD_REQUEST", f"page должен быть ≥ 1, size — от 1 до {MAX_PAGE_SIZE}")
    org = params.get("orgOid")
    docs = [
        d.metadata
        for d in state.documents_of(person)
        if (not kinds or d.metadata.kind in kinds)
        and (start is None or d.metadata.created_at.date() >= start)
        and (end is None or d.metadata.created_at.date() <= end)
        and (not org or d.metadata.org_oid == org)
    ]
    docs.sort(key=lambda m: (m.created_at, m.registry_number), reverse=True)
    chunk = docs[(page - 1) * size : page * size]
    return _ok(total=len(docs), page=page, size=size, items=[metadata_json(m) for m in chunk])


def render_html(cda: bytes) -> bytes:
    """The register's rendering: the title, the people and every section's narrative, as HTML."""
    doc = parse_cda(cda)
    root = parse_xml(cda)
    ns = {"v": V3}
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="ru"><head><meta charset="utf-8"><title>{html.escape(doc.title)}</title></head><body>',
        f"<h1>{html.escape(doc.title)}</h1>",
        f"<p>Пациент: {html.escape(doc.patient.name)}</p>",
        f"<p>Автор: {html.escape(doc.author.name)}"
        + (f", {html.escape(doc.author.position.display_name or '')}" if doc.author.position else "")
        + "</p>",
        f"<p>Медицинская организация: {html.escape(doc.organisation_name or '')}</p>",
    ]
    for section in root.iterfind("v:component/v:structuredBody/v:component/v:section", namespaces=ns):
        parts.append(f"<h2>{html.escape(section.findtext('v:title', default='', namespaces=ns))}</h2>")
        text = section.find("v:text", namespaces=ns)
        for paragraph in text.iterfind("v:paragraph", namespaces=ns) if text is not None else ():
            parts.append(f"<p>{html.escape(''.join(str(t) for t in paragraph.itertext()))}</p>")
        rows = text.findall("v:table/v:tbody/v:tr", namespaces=ns) if text is not None else []
        if rows:
            parts.append("<table>")
            for row in rows:
                cells = "".join(f"<td>{html.escape(c.text or '')}</td>" for c in row.iterfind("v:td", namespaces=ns))
                parts.append(f"<tr>{cells}</tr>")
            parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts).encode("utf-8")


def _submission(state: IemkSimulatorState, body: Any) -> Registration:
    if not isinstance(body, dict):
        raise _Refused(400, "BAD_REQUEST", "Тело запроса должно быть объектом JSON")
    try:
        cda = base64.b64decode(body["cda"], validate=True)
        signatures = {SignatureRole(s["role"]): base64.b64decode(s["value"], validate=True) for s in body["signatures"]}
        delay = body.get("delaySeconds")
        return state.submit(
            local_uid=str(body["localUid"]),
            kind=str(body["kind"]),
            patient_snils=str(body["patientSnils"]),
            cda=cda,
            signatures=signatures,
            delay=timedelta(seconds=float(delay)) if delay is not None else None,
        )
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise _Refused(400, "BAD_REQUEST", f"Некорректная заявка на регистрацию: {exc!r}") from exc


def create_iemk_simulator(
    region: Region,
    *,
    faults: FaultProfile | None = None,
    clock: Callable[[], datetime] | None = None,
    api_key: str | None = None,
    terminology: Terminology | None = None,
    registration_delay: timedelta = timedelta(minutes=5),
    key_size: int = 2048,
    signer_factory: SignerFactory | None = None,
) -> Litestar:
    """The register simulator as an ASGI app; ``api_key=None`` accepts any client."""
    state = IemkSimulatorState(
        region,
        faults=FaultInjector(faults or FaultProfile()),
        clock=clock,
        api_key=api_key,
        terminology=terminology,
        registration_delay=registration_delay,
        key_size=key_size,
        signer_factory=signer_factory,
    )

    async def serve(request: Request[Any, Any, Any], name: str, handler: Callable[[], Response[Any]]) -> Response[Any]:
        fault = await state.faults.before_reply()
        if fault is Fault.ERROR:
            return Response(content=b"<html>503 Service Unavailable</html>", status_code=503, media_type="text/html")
        if fault is Fault.MALFORMED:
            return Response(content=b'{"result":"OK","ite', status_code=200, media_type="application/json")
        state.calls[name] += 1
        if state.api_key is not None and request.headers.get("authorization") != f"Bearer {state.api_key}":
            return _error(401, "ACCESS_DENIED", "Доступ запрещён: неверный ключ клиента")
        try:
            return handler()
        except _Refused as exc:
            return _error(exc.status, exc.code, exc.message)

    def params(request: Request[Any, Any, Any]) -> dict[str, Any]:
        return dict(request.query_params.items())

    @get(f"{BASE_PATH}/documents")
    async def documents(request: Request[Any, Any, Any]) -> Response[Any]:
        kinds = [k for k in request.query_params.getall("kind", []) if k]
        return await serve(request, "documents", lambda: list_documents(state, params(request), kinds))

    @get(f"{BASE_PATH}/documents/{{number:str}}")
    async def metadata(request: Request[Any, Any, Any], number: FromPath[str]) -> Response[Any]:
        snils = request.query_params.get("snils")
        return await serve(request, "metadata", lambda: _ok(**metadata_json(state.document(number, snils).metadata)))

    @get(f"{BASE_PATH}/documents/{{number:str}}/cda")
    async def cda(request: Request[Any, Any, Any], number: FromPath[str]) -> Response[Any]:
        snils = request.query_params.get("snils")

        def handler() -> Response[Any]:
            return Response(content=state.document(number, snils).cda, media_type="application/xml")

        return await serve(request, "cda", handler)

    @get(f"{BASE_PATH}/documents/{{number:str}}/signatures")
    async def signatures(request: Request[Any, Any, Any], number: FromPath[str]) -> Response[Any]:
        snils = request.query_params.get("snils")

        def handler() -> Response[Any]:
            signed = state.signatures(state.document(number, snils))
            items = [
                {"role": role.value, "format": "CMS", "value": base64.b64encode(cms).decode("ascii")}
                for role, cms in signed.items()
            ]
            return _ok(items=items)

        return await serve(request, "signatures", handler)

    @get(f"{BASE_PATH}/documents/{{number:str}}/rendering")
    async def rendering(request: Request[Any, Any, Any], number: FromPath[str]) -> Response[Any]:
        snils = request.query_params.get("snils")

        def handler() -> Response[Any]:
            doc = state.document(number, snils)
            try:
                body = render_html(doc.cda)
            except CdaMalformed as exc:
                raise _Refused(422, "DOCUMENT_UNREADABLE", f"Документ не удаётся отобразить: {exc}") from exc
            return Response(content=body, media_type="text/html; charset=utf-8")

        return await serve(request, "rendering", handler)

    @get(f"{BASE_PATH}/registrations/{{uid:str}}")
    async def registration(request: Request[Any, Any, Any], uid: FromPath[str]) -> Response[Any]:
        return await serve(request, "registration", lambda: _ok(**registration_json(state.registration(uid))))

    @post(f"{BASE_PATH}/registrations", status_code=202)
    async def submit(request: Request[Any, Any, Any]) -> Response[Any]:
        try:
            body = await request.json()
        except ValueError:
            body = None
        return await serve(request, "submit", lambda: _ok(202, **registration_json(_submission(state, body))))

    @post(f"{SCENARIO_PATH}/documents", status_code=202)
    async def scenario_document(request: Request[Any, Any, Any]) -> Response[Any]:
        body = await request.json()

        def handler() -> Response[Any]:
            delay = body.get("delaySeconds")
            reg = state.register_document(
                snils=body.get("snils"),
                esia_oid=body.get("oid"),
                kind=str(body.get("kind", "119")),
                delay=timedelta(seconds=float(delay)) if delay is not None else None,
                reject=[RegistrationError(str(e["code"]), str(e["message"])) for e in body.get("reject", [])],
            )
            return _ok(202, **registration_json(reg))

        return await serve(request, "scenario", handler)

    @post(f"{SCENARIO_PATH}/corrupt", status_code=200)
    async def scenario_corrupt(request: Request[Any, Any, Any]) -> Response[Any]:
        body = await request.json()

        def handler() -> Response[Any]:
            state.corrupt(str(body.get("registryNumber")), str(body.get("what")))
            return _ok()

        return await serve(request, "scenario", handler)

    return simulator_app(
        [documents, metadata, cda, signatures, rendering, registration, submit, scenario_document, scenario_corrupt],
        state,
    )


def simulator_state(app: Litestar) -> IemkSimulatorState:
    return state_of(app, IemkSimulatorState)


__all__ = ["IemkSimulatorState", "create_iemk_simulator", "simulator_state"]
