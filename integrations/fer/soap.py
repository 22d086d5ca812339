"""SOAP 1.1 envelopes of the N3 HubService (WCF ``basicHttpBinding``), built and parsed with lxml.

Wire shape (``protocols.md`` §2.2):

* request: ``SOAPAction: "http://tempuri.org/IHubService/<Method>"``, body root ``tem:<Method>`` in
  ``http://tempuri.org/`` with one child per parameter, in parameter order, in the same namespace;
  members of a complex parameter (``pat``) are in the data-contract namespace;
* reply: ``<Method>Response/<Method>Result`` in ``http://tempuri.org/``, result members in
  ``http://schemas.datacontract.org/2004/07/HubService2`` in ``DataContractSerializer`` order (base
  ``MethodResult`` members ``ErrorList, IdHistory, Success`` first, then the rest alphabetically);
* transport errors: ``s:Fault`` with HTTP 500; business errors: ``ErrorList`` with ``Success=false``.

Parsing never resolves entities, loads a DTD or touches the network, and refuses documents with a
DOCTYPE.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime

from lxml import etree

from integrations.common.soap import SoapFault, SoapMalformed

SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
TEMPURI_NS = "http://tempuri.org/"
HUB_NS = "http://schemas.datacontract.org/2004/07/HubService2"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
ARRAYS_NS = "http://schemas.microsoft.com/2003/10/Serialization/Arrays"
SOAP_ACTION_PREFIX = "http://tempuri.org/IHubService/"
CONTENT_TYPE = "text/xml; charset=utf-8"

_NIL = f"{{{XSI_NS}}}nil"

Scalar = str | int | bool | date | datetime
ComplexValue = Sequence[tuple[str, Scalar | None]]
ParamValue = Scalar | ComplexValue | None


def qn(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def soap_action(method: str) -> str:
    """The ``SOAPAction`` header value (quoted, as WCF sends it)."""
    return f'"{SOAP_ACTION_PREFIX}{method}"'


def method_from_action(header: str | None) -> str | None:
    if not header:
        return None
    action = header.strip().strip('"')
    if not action.startswith(SOAP_ACTION_PREFIX):
        return None
    return action[len(SOAP_ACTION_PREFIX) :] or None


def format_scalar(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(timespec="seconds")
    if isinstance(value, date):
        return f"{value.isoformat()}T00:00:00"
    return str(value)


def _envelope() -> tuple[etree._Element, etree._Element]:
    env = etree.Element(qn(SOAP_ENV_NS, "Envelope"), nsmap={"s": SOAP_ENV_NS})
    body = etree.SubElement(env, qn(SOAP_ENV_NS, "Body"))
    return env, body


def serialize(envelope: etree._Element) -> bytes:
    return etree.tostring(envelope, encoding="utf-8", xml_declaration=False)


# -- requests ------------------------------------------------------------------------------------


def build_request(method: str, params: Iterable[tuple[str, ParamValue]]) -> bytes:
    """``tem:<method>`` with the parameters in the given order; ``None`` parameters are left out."""
    env = etree.Element(qn(SOAP_ENV_NS, "Envelope"), nsmap={"s": SOAP_ENV_NS, "tem": TEMPURI_NS})
    body = etree.SubElement(env, qn(SOAP_ENV_NS, "Body"))
    op = etree.SubElement(body, qn(TEMPURI_NS, method))
    for name, value in params:
        if value is None:
            continue
        if isinstance(value, Scalar):
            etree.SubElement(op, qn(TEMPURI_NS, name)).text = format_scalar(value)
            continue
        complex_el = etree.SubElement(op, qn(TEMPURI_NS, name), nsmap={"a": HUB_NS})
        for member, member_value in value:
            if member_value is not None:
                etree.SubElement(complex_el, qn(HUB_NS, member)).text = format_scalar(member_value)
    return serialize(env)


# -- replies -------------------------------------------------------------------------------------


def new_result(
    method: str, *, errors: Sequence[tuple[int, str]] = (), id_history: int | None = None
) -> tuple[etree._Element, etree._Element]:
    """Envelope and ``<method>Result`` with the ``MethodResult`` members already in place.

    The caller appends the derived members (alphabetically) to the returned result element.
    """
    env, body = _envelope()
    response = etree.SubElement(
        body,
        qn(TEMPURI_NS, f"{method}Response"),
        nsmap={None: TEMPURI_NS},  # type: ignore[dict-item]  # lxml-stubs forbid the default ns
    )
    result = etree.SubElement(response, qn(TEMPURI_NS, f"{method}Result"), nsmap={"a": HUB_NS, "i": XSI_NS})
    error_list = etree.SubElement(result, qn(HUB_NS, "ErrorList"))
    for code, message in errors:
        err = etree.SubElement(error_list, qn(HUB_NS, "Error"))
        add(err, "ErrorDescription", message)
        add(err, "IdError", code)
    add(result, "IdHistory", id_history)
    add(result, "Success", not errors)
    return env, result


def add(parent: etree._Element, name: str, value: Scalar | None = None, *, ns: str = HUB_NS) -> etree._Element:
    """Append ``<a:name>`` with ``value``; ``None`` gives ``i:nil="true"``."""
    el = etree.SubElement(parent, qn(ns, name))
    if value is None:
        el.set(_NIL, "true")
    else:
        el.text = format_scalar(value)
    return el


def add_container(parent: etree._Element, name: str) -> etree._Element:
    return etree.SubElement(parent, qn(HUB_NS, name))


def build_fault(code: str, message: str) -> bytes:
    env, body = _envelope()
    fault = etree.SubElement(body, qn(SOAP_ENV_NS, "Fault"))
    etree.SubElement(fault, "faultcode").text = f"s:{code}"
    string = etree.SubElement(fault, "faultstring")
    string.text = message
    string.set("{http://www.w3.org/XML/1998/namespace}lang", "ru-RU")
    return serialize(env)


# -- parsing -------------------------------------------------------------------------------------


def _parser() -> etree.XMLParser:
    # One per call: lxml parsers must not be shared between threads.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse_body(data: bytes) -> etree._Element:
    """Return the first element of ``s:Body``; raise :class:`SoapFault` for a Fault."""
    if not data:
        raise SoapMalformed("пустой ответ")
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise SoapMalformed(f"некорректный XML: {exc}") from exc
    if getattr(root.getroottree().docinfo, "doctype", ""):
        raise SoapMalformed("DOCTYPE в SOAP-сообщении запрещён")
    if root.tag != qn(SOAP_ENV_NS, "Envelope"):
        raise SoapMalformed(f"ожидался soap:Envelope, получен {root.tag}")
    body = root.find(qn(SOAP_ENV_NS, "Body"))
    if body is None:
        raise SoapMalformed("нет soap:Body")
    first = next((el for el in body if isinstance(el.tag, str)), None)
    if first is None:
        raise SoapMalformed("пустой soap:Body")
    if first.tag == qn(SOAP_ENV_NS, "Fault"):
        code = (first.findtext("faultcode") or "").strip()
        message = (first.findtext("faultstring") or "").strip()
        raise SoapFault(code.split(":", 1)[-1] or "Server", message or "SOAP Fault без описания")
    return first


def local_name(el: etree._Element) -> str:
    return etree.QName(el).localname


def child(el: etree._Element, name: str, *, ns: str = HUB_NS) -> etree._Element | None:
    return el.find(qn(ns, name))


def children(el: etree._Element | None, name: str, *, ns: str = HUB_NS) -> list[etree._Element]:
    return [] if el is None else el.findall(qn(ns, name))


def text(el: etree._Element | None, name: str, *, ns: str = HUB_NS) -> str | None:
    """Text of a member; ``None`` when missing or ``i:nil``."""
    if el is None:
        return None
    member = el.find(qn(ns, name))
    if member is None or member.get(_NIL) == "true":
        return None
    return (member.text or "").strip()


def required_text(el: etree._Element, name: str, *, ns: str = HUB_NS) -> str:
    value = text(el, name, ns=ns)
    if value is None:
        raise SoapMalformed(f"нет обязательного элемента {name}")
    return value


def parse_datetime(value: str | None) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise SoapMalformed(f"некорректная дата-время: {value!r}") from exc
    return parsed.replace(tzinfo=None)


def parse_int(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise SoapMalformed(f"некорректное число: {value!r}") from exc


def parse_float(value: str | None) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError as exc:
        raise SoapMalformed(f"некорректное число: {value!r}") from exc


def parse_bool(value: str | None) -> bool:
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise SoapMalformed(f"некорректное логическое значение: {value!r}")
