"""What the API shows at its edges: the landing page, the REST documentation, and who may read /metrics.

* ``GET /``: a Russian page naming the service and linking what this installation offers (GraphiQL, the
  REST documentation, the contracts, readiness) — only what its settings switch on.
* ``/api/docs``: a Russian page listing the REST operations, rendered on the server from the OpenAPI
  document (no scripts, nothing loaded from a CDN), and the document itself at ``/api/docs/openapi.json``;
  both answer 404 where ``MZ_API_DOCS`` is off (by default in production).
* ``/contracts/schema.graphql``: the GraphQL contract, where introspection is on (it shows the same).
* ``/metrics``: Prometheus' page, behind ``Authorization: Bearer <MZ_METRICS_TOKEN>`` when that is set;
  without a token it is open in embedded/test and closed in production.
"""

from __future__ import annotations

import hmac
from html import escape
from typing import Any

from litestar import Request, Response, Router, get
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, NotFoundException
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, OpenAPIRenderPlugin
from litestar.openapi.spec import Components, OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Reference, Schema
from litestar.plugins.prometheus import PrometheusController
from strawberry.printer import print_schema

from backend.settings import Settings

API_DOCS_PATH = "/api/docs"
CONTRACT_PATH = "/contracts/schema.graphql"
METRICS_REFUSED = "Метрики доступны только с токеном доступа (MZ_METRICS_TOKEN)."

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}"
    "table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.4rem;text-align:left}"
    "code{background:#f3f3f3;padding:0 .2rem}"
)


def _page(title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="ru"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body>{body}</body></html>"
    )


# ------------------------------------------------------------------------------------------ landing page


def landing_page(settings: Settings) -> str:
    links = []
    if settings.graphiql:
        links.append('<li><a href="/graphql">GraphiQL</a>: запросы к API GraphQL в браузере</li>')
    else:
        links.append("<li>API GraphQL: <code>POST /graphql</code> (только зарегистрированные документы клиентов)</li>")
    if settings.introspection:
        links.append(f'<li><a href="{CONTRACT_PATH}">Контракт GraphQL</a> (<code>graphql/schema.graphql</code>)</li>')
    if settings.api_docs:
        links.append(f'<li><a href="{API_DOCS_PATH}">REST API</a>: операции и документ OpenAPI</li>')
    links.append('<li><a href="/console">Консоль оператора 122</a> и <a href="/kiosk">инфомат</a></li>')
    links.append('<li><a href="/health/ready">Готовность</a>: база данных и Redis</li>')
    body = (
        "<h1>«Мое здоровье»</h1>"
        f"<p>Сервер API для пациента: запись к врачу и другие услуги. Регион: {escape(settings.region_name)}.</p>"
        f"<ul>{''.join(links)}</ul>"
        "<p>Контракты в репозитории: <code>graphql/schema.graphql</code>, <code>openapi/openapi.json</code>.</p>"
    )
    return _page("«Мое здоровье»: API", body)


def landing_route(settings: Settings) -> Any:
    page = landing_page(settings)

    @get("/", include_in_schema=False, sync_to_thread=False)
    def landing() -> Response[str]:
        return Response(page, media_type="text/html; charset=utf-8")

    return landing


def contract_route(schema: Any, settings: Settings) -> Any:
    """``/contracts/schema.graphql``: the schema's SDL where introspection shows it anyway."""
    text = print_schema(schema) + "\n"

    @get(CONTRACT_PATH, include_in_schema=False, sync_to_thread=False)
    def contract() -> Response[str]:
        if not settings.introspection:
            raise NotFoundException()
        return Response(text, media_type="text/plain; charset=utf-8")

    return contract


# ------------------------------------------------------------------------------------------ REST documentation


class ContractPage(OpenAPIRenderPlugin):
    """The REST operations as a plain Russian HTML table, rendered from the OpenAPI document."""

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        rows = []
        for path, item in sorted(openapi_schema.get("paths", {}).items()):
            for method, operation in item.items():
                if not isinstance(operation, dict):
                    continue
                summary = operation.get("summary") or operation.get("description") or ""
                codes = ", ".join(sorted(operation.get("responses", {})))
                rows.append(
                    f"<tr><td><code>{escape(method.upper())}</code></td><td><code>{escape(path)}</code></td>"
                    f"<td>{escape(summary)}</td><td>{escape(codes)}</td></tr>"
                )
        info = openapi_schema.get("info", {})
        body = (
            f"<h1>{escape(str(info.get('title', 'REST API')))}</h1>"
            f"<p>{escape(str(info.get('description', '')))}</p>"
            f'<p>Документ OpenAPI: <a href="{API_DOCS_PATH}/openapi.json">openapi.json</a> '
            "(в репозитории: <code>openapi/openapi.json</code>). "
            "Основной API — GraphQL, <code>POST /graphql</code>.</p>"
            "<table><tr><th>Метод</th><th>Путь</th><th>Назначение</th><th>Ответы</th></tr>"
            f"{''.join(rows)}</table>"
        )
        return _page("REST API", body).encode("utf-8")


def openapi_config(settings: Settings, *, title: str, version: str, description: str) -> OpenAPIConfig:
    """The OpenAPI document's metadata, served at /api/docs only where ``MZ_API_DOCS`` is on."""

    def docs_enabled(connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler) -> None:
        if not settings.api_docs:
            raise NotFoundException()

    return OpenAPIConfig(
        title=title,
        version=version,
        description=description,
        path=API_DOCS_PATH,
        render_plugins=[ContractPage(path="/"), JsonRenderPlugin(path="/openapi.json")],
        openapi_router=Router(path=API_DOCS_PATH, route_handlers=[], guards=[docs_enabled], include_in_schema=False),
    )


# ------------------------------------------------------------------------------------------ metrics


def metrics_controller(settings: Settings) -> type[PrometheusController]:
    """Prometheus' controller behind the metrics token (see the module docstring)."""
    expected = f"Bearer {settings.metrics_token}".encode() if settings.metrics_token else None

    def metrics_allowed(connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler) -> None:
        if expected is None:
            if settings.is_production:
                raise NotAuthorizedException(detail=METRICS_REFUSED, extra={"code": "NOT_AUTHENTICATED"})
            return
        given = connection.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            raise NotAuthorizedException(detail=METRICS_REFUSED, extra={"code": "NOT_AUTHENTICATED"})

    class MetricsController(PrometheusController):
        guards = [metrics_allowed]  # noqa: RUF012 - Litestar reads it as a class attribute

    return MetricsController


# ------------------------------------------------------------------------------------------ documented refusals

REFUSAL_SCHEMA = "Refusal"
OAUTH_ERROR_SCHEMA = "OAuthError"

_JSON = "application/json"
_HTML = "text/html"

# What each REST operation may answer besides its success, beyond what its handler declares: the one error
# body (backend/api/boundary.py) for refusals, the OAuth error body on the token endpoint (RFC 6749), a
# Russian HTML page where a browser is on the other end, a redirect where the login goes on elsewhere.
_REFUSALS: dict[tuple[str, str], dict[str, tuple[str, str]]] = {
    ("get", "/api/v1/oauth/authorize"): {
        "302": ("", "Переход на страницу входа ЕСИА или обратно в приложение с ошибкой"),
        "400": (_HTML, "Страница с ошибкой входа (приложение или адрес возврата неизвестны)"),
    },
    ("get", "/api/v1/auth/esia/start"): {
        "302": ("", "Переход на страницу входа ЕСИА или обратно в приложение с ошибкой"),
        "400": (_HTML, "Страница с ошибкой входа (приложение или адрес возврата неизвестны)"),
    },
    ("get", "/api/v1/auth/esia/callback"): {
        "302": ("", "Возврат в приложение с кодом авторизации или ошибкой"),
        "400": (_HTML, "Страница с ошибкой входа (сеанс входа не найден или устарел)"),
    },
    ("post", "/api/v1/oauth/token"): {
        "400": (OAUTH_ERROR_SCHEMA, "Ошибка OAuth (RFC 6749): неверный код, маркер или проверка PKCE"),
        "401": (OAUTH_ERROR_SCHEMA, "Ошибка OAuth (RFC 6749): приложение или подпись устройства не приняты"),
    },
    ("post", "/api/v1/auth/logout"): {"401": (REFUSAL_SCHEMA, "Маркер доступа не принят или не передан")},
    ("get", "/api/v1/booking/tickets/{name}"): {
        "401": (REFUSAL_SCHEMA, "Маркер доступа не принят или не передан"),
        "403": (REFUSAL_SCHEMA, "Талон не этого пациента или нет права на печать"),
        "404": (REFUSAL_SCHEMA, "Талон не найден"),
        "503": (REFUSAL_SCHEMA, "Печать талона сейчас недоступна"),
    },
    ("get", "/api/v1/documents/{document_id}/original.zip"): {
        "401": (REFUSAL_SCHEMA, "Маркер доступа не принят или не передан"),
        "403": (REFUSAL_SCHEMA, "Нет права на документы этого пациента"),
        "404": (REFUSAL_SCHEMA, "Документ не найден"),
        "503": (REFUSAL_SCHEMA, "Реестр медицинских документов сейчас недоступен"),
    },
    ("get", "/api/v1/drugs/prescriptions/{name}"): {
        "401": (REFUSAL_SCHEMA, "Маркер доступа не принят или не передан"),
        "403": (REFUSAL_SCHEMA, "Нет права на рецепты этого пациента"),
        "404": (REFUSAL_SCHEMA, "Рецепт не найден"),
        "503": (REFUSAL_SCHEMA, "Печать или сервис льготных лекарств сейчас недоступны"),
    },
    ("post", "/api/v1/webhooks/sms/twilio"): {
        "403": (REFUSAL_SCHEMA, "Подпись Twilio не прошла проверку"),
    },
    ("get", "/graphql"): {
        "200": (_HTML, "GraphiQL (где он включен)"),
        "404": (REFUSAL_SCHEMA, "GraphiQL выключен"),
    },
    ("post", "/graphql"): {
        "401": (REFUSAL_SCHEMA, "Маркер доступа не принят, а операции нужен вход"),
        "503": (_JSON, "Ответ GraphQL с ошибкой SERVICE_UNAVAILABLE: база данных или Redis недоступны"),
    },
    ("get", "/metrics"): {
        "200": ("text/plain", "Метрики в формате Prometheus"),
        "401": (REFUSAL_SCHEMA, "Нужен токен доступа к метрикам"),
    },
    ("get", "/health/ready"): {"503": (_JSON, "Не готов: названо, что недоступно")},
}
# Every operation may be refused as malformed (400) or during an outage (503); a POST also for its size (413).
_EVERYWHERE = {
    "400": (REFUSAL_SCHEMA, "Неверный запрос"),
    "503": (REFUSAL_SCHEMA, "Сервис временно недоступен: база данных или Redis"),
}
_POST = {"413": (REFUSAL_SCHEMA, "Запрос слишком большой")}


def _schemas() -> dict[str, Any]:
    text = {"type": "string"}
    return {
        REFUSAL_SCHEMA: {
            "type": "object",
            "description": "Отказ: стабильный код, текст для человека и код запроса (он же в заголовке x-request-id).",
            "required": ["code", "message", "requestId"],
            "properties": {"code": text, "message": text, "requestId": text},
        },
        OAUTH_ERROR_SCHEMA: {
            "type": "object",
            "description": "Ошибка OAuth 2.0 (RFC 6749, раздел 5.2).",
            "required": ["error"],
            "properties": {"error": text, "error_description": text},
        },
    }


def document_refusals(openapi: Any) -> None:
    """Add the refusals of :data:`_REFUSALS` and the common ones to ``openapi`` (Litestar's OpenAPI object)."""
    components = openapi.components or Components()
    components.schemas = dict(components.schemas or {})
    for name, body in _schemas().items():
        components.schemas[name] = Schema(
            type=OpenAPIType.OBJECT,
            description=body["description"],
            required=body["required"],
            properties={key: Schema(type=OpenAPIType.STRING) for key in body["properties"]},
        )
    openapi.components = components

    def response(kind: str, description: str) -> OpenAPIResponse:
        if not kind:
            return OpenAPIResponse(description=description)
        if kind in (REFUSAL_SCHEMA, OAUTH_ERROR_SCHEMA):
            content = {_JSON: OpenAPIMediaType(schema=Reference(ref=f"#/components/schemas/{kind}"))}
        else:
            content = {
                kind: OpenAPIMediaType(schema=Schema(type=OpenAPIType.OBJECT if kind == _JSON else OpenAPIType.STRING))
            }
        return OpenAPIResponse(description=description, content=content)

    for path, item in (openapi.paths or {}).items():
        for method in ("get", "post", "put", "patch", "delete"):
            operation = getattr(item, method, None)
            if operation is None:
                continue
            responses = dict(operation.responses or {})
            extra = {**_EVERYWHERE, **(_POST if method == "post" else {}), **_REFUSALS.get((method, path), {})}
            for status, (kind, description) in extra.items():
                wanted = response(kind, description)
                documented = responses.get(status)
                if documented is None:
                    responses[status] = wanted
                elif wanted.content and isinstance(documented, OpenAPIResponse):
                    # The handler declared this status: the body is the one it really answers with (a refusal
                    # passes the app's exception handlers), and another content type it answers with is added.
                    documented.content = {**(documented.content or {}), **wanted.content}
            operation.responses = responses
