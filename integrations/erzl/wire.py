"""The JSON shapes of the ЕРЗЛ / insurer contract (ours: see :mod:`integrations.erzl.protocol`).

``/erzl/v1`` (every request carries ``Authorization: Bearer``; 401 ``unauthorized``):

* ``GET  /persons/policy?snils=…`` or ``?esiaOid=…`` (header ``X-Consent-Id``) → 200
  ``{"state": "found", "policy": Policy, "history": [Policy]}`` or 202 ``{"state": "pending",
  "retryAfter": "…"}``; 403 ``consent_required``, 404 ``not_found``, 400 ``bad_request``;
* ``GET  /insurers?region=26`` → ``{"insurers": [Insurer]}``;
* ``GET  /persons/{enp}/services?from=…&to=…`` → ``{"services": [Service]}``; 404 ``not_found``;
* ``POST /appeals`` (``Idempotency-Key``) → 201 Appeal (200 on a repeated key); 404 ``not_found`` /
  ``case_not_found``, 409 ``dispute_exists``; ``GET /appeals/{id}``; ``POST /appeals/{id}/reopen``
  (``Idempotency-Key``, ``{"comment": …}``) → Appeal; 409 ``reopen_not_allowed``;
* ``POST /changes`` (``Idempotency-Key``) → 201 Change; 404 ``insurer_not_found`` / ``not_found``, 409
  ``change_pending``, 422 ``change_not_allowed``; ``GET /changes/{id}``.

The record follows ``protocols.md`` §6: ``{"enp", "status", "startDate", "endDate", "region",
"smo": {"name", "ogrn", "nsiCode", …}, "attachmentMo"}``. Errors are ``{"error": {"code", "message"}}``.
Dates are ISO 8601, moments naive local ISO as the region's other upstreams send them, money a decimal
string (roubles).

The codec is generic over the protocol's frozen dataclasses: field names in camelCase (``insurer`` →
``smo``, ``code`` → ``nsiCode``, ``attachment_mo_oid`` → ``attachmentMo`` as in the record shape).
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any, TypeVar

BASE_PATH = "/erzl/v1"
T = TypeVar("T")

#: Protocol field name → wire key, where the record shape of protocols.md §6 names it differently.
_RENAMED = {"insurer": "smo", "attachment_mo_oid": "attachmentMo", "code": "nsiCode"}


class WireError(ValueError):
    """A JSON document that is not the shape expected."""


def _camel(name: str) -> str:
    if name in _RENAMED:
        return _RENAMED[name]
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def to_json(value: Any) -> Any:  # noqa: PLR0911 - one return per type
    """A protocol value (dataclass, enum, date, Decimal, tuple…) as JSON."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {_camel(f.name): to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value


@cache
def _hints(kind: type) -> dict[str, Any]:
    return typing.get_type_hints(kind)


def from_json(kind: type[T], value: Any, what: str = "") -> T:  # noqa: PLR0911, PLR0912, PLR0915 - one branch per type
    """Parse ``value`` as ``kind``; :class:`WireError` naming the field on any mismatch."""
    where = what or getattr(kind, "__name__", "value")
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(kind) if a is not type(None)]
        if value is None:
            if len(options) < len(typing.get_args(kind)):
                return None  # type: ignore[return-value]
            raise WireError(f"нет поля {where}")
        return typing.cast(T, from_json(options[0], value, where))
    if origin is tuple:
        if not isinstance(value, list):
            raise WireError(f"{where}: ожидался список")
        item = typing.get_args(kind)[0]
        return typing.cast(T, tuple(from_json(item, v, f"{where}[]") for v in value))
    if dataclasses.is_dataclass(kind):
        if not isinstance(value, dict):
            raise WireError(f"{where}: ожидался объект")
        hints = _hints(kind)
        values: dict[str, Any] = {}
        for f in dataclasses.fields(kind):
            key = _camel(f.name)
            if key not in value:
                if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING:
                    continue
                if type(None) in typing.get_args(hints[f.name]):
                    values[f.name] = None
                    continue
                raise WireError(f"нет поля {where}.{key}")
            values[f.name] = from_json(hints[f.name], value[key], f"{where}.{key}")
        return typing.cast(T, kind(**values))
    if value is None:
        raise WireError(f"нет поля {where}")
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        try:
            return typing.cast(T, kind(value))
        except ValueError as exc:
            raise WireError(f"неизвестное значение {where}: {value!r}") from exc
    if kind is datetime:
        try:
            return typing.cast(T, datetime.fromisoformat(str(value)).replace(tzinfo=None))
        except ValueError as exc:
            raise WireError(f"некорректное время {where}: {value!r}") from exc
    if kind is date:
        try:
            return typing.cast(T, date.fromisoformat(str(value)))
        except ValueError as exc:
            raise WireError(f"некорректная дата {where}: {value!r}") from exc
    if kind is Decimal:
        try:
            amount = Decimal(str(value))
        except InvalidOperation as exc:
            raise WireError(f"некорректная сумма {where}: {value!r}") from exc
        if not amount.is_finite():
            raise WireError(f"некорректная сумма {where}: {value!r}")
        return typing.cast(T, amount)
    if kind is bool:
        if not isinstance(value, bool):
            raise WireError(f"{where}: ожидалось true или false")
        return typing.cast(T, value)
    if kind is str:
        if not isinstance(value, str):
            raise WireError(f"{where}: ожидалась строка")
        return typing.cast(T, value)
    raise WireError(f"{where}: тип {kind!r} не поддерживается")
