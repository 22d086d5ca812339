"""REST for the survey link in the notification (mounted under /api/v1): answered without logging in.

``GET /api/v1/surveys/{token}``: the questions as a small Russian HTML form (no scripts, no CDN).
``POST /api/v1/surveys/{token}`` (``application/x-www-form-urlencoded``): the answers; recorded once (the
token answers one survey once; only its hash is stored). An unknown token is 404, an answered or closed
survey 409, bad answers 422, each a Russian page.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from litestar import MediaType, Request, Response, get, post
from litestar.openapi.datastructures import ResponseSpec

from backend.core.context import Actor, Channel, RequestContext
from backend.core.uow import UnitOfWork
from backend.middleware import request_id_of
from backend.surveys import questionnaire, service
from backend.surveys.problems import AlreadyAnswered, ProblemError, SurveyClosed

if TYPE_CHECKING:
    from backend.runtime import Runtime

MAX_FORM_BYTES = 8192


def _page(status: int, title: str, body: str) -> Response[Any]:
    page = (
        '<!doctype html><html lang="ru"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title></head><body><h1>{html.escape(title)}</h1>{body}"
        "<p>«Мое здоровье»</p></body></html>"
    )
    return Response(content=page, status_code=status, media_type=MediaType.HTML, headers={"Cache-Control": "no-store"})


def _text(status: int, title: str, text: str) -> Response[Any]:
    return _page(status, title, f"<p>{html.escape(text)}</p>")


def _form(action: str) -> str:
    parts = [f'<form method="post" action="{html.escape(action)}">']
    for q in questionnaire.QUESTIONS:
        parts.append(f"<fieldset><legend>{html.escape(q.text)}</legend>")
        if q.kind in ("scale", "choice"):
            for o in q.options:
                parts.append(
                    f'<label><input type="radio" name="{q.id}" value="{html.escape(o.value)}"'
                    f"{' required' if q.required else ''}> {html.escape(o.label)}</label><br>"
                )
        elif q.kind == "yes_no":
            parts.append(
                f'<label><input type="radio" name="{q.id}" value="yes" required> Да</label> '
                f'<label><input type="radio" name="{q.id}" value="no"> Нет</label>'
            )
        else:
            parts.append(f'<textarea name="{q.id}" maxlength="{questionnaire.COMMENT_MAX}"></textarea>')
        parts.append("</fieldset>")
    parts.append('<button type="submit">Отправить</button></form>')
    return "".join(parts)


_RESPONSES = {
    404: ResponseSpec(
        data_container=str, generate_examples=False, media_type=MediaType.HTML, description="Опрос не найден."
    ),
    409: ResponseSpec(
        data_container=str,
        generate_examples=False,
        media_type=MediaType.HTML,
        description="Уже отвечено или срок истёк.",
    ),
}


@get("/surveys/{token:str}", media_type=MediaType.HTML, responses=_RESPONSES)
async def survey_form(request: Request[Any, Any, Any], token: str) -> Response[Any]:
    """The survey of the link in the notification: the visit and the questions."""
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessionmaker() as session:
        invitation = await service.invitation_by_token(session, token)
    if invitation is None:
        return _text(404, "Опрос не найден", "Проверьте ссылку из сообщения.")
    if invitation.status != "pending":
        return _text(409, "Спасибо!", AlreadyAnswered.MESSAGE)
    if invitation.answer_until <= runtime.now():
        return _text(409, "Опрос закрыт", SurveyClosed.MESSAGE)
    about = f"<p>{html.escape(invitation.specialty_name)}, {html.escape(invitation.mo_name)}</p>"
    return _page(200, "Оцените приём", about + _form(str(request.url.path)))


def _answers(form: dict[str, list[str]]) -> service.Answers:
    def one(name: str) -> str:
        return (form.get(name) or [""])[0]

    def score(name: str) -> int:
        value = one(name)
        return int(value) if value.isdigit() else 0

    return service.Answers(
        quality=score("quality"),
        booking_ease=score("booking_ease"),
        booking_channel=one("booking_channel"),
        future_use=one("future_use") == "yes",
        recommend=one("recommend") == "yes",
        comment=one("comment") or None,
    )


@post(
    "/surveys/{token:str}",
    media_type=MediaType.HTML,
    status_code=200,
    responses={
        **_RESPONSES,
        422: ResponseSpec(
            data_container=str, generate_examples=False, media_type=MediaType.HTML, description="Ответы неполные."
        ),
    },
)
async def survey_answer(request: Request[Any, Any, Any], token: str) -> Response[Any]:
    """Record the answers of the form (once)."""
    runtime: Runtime = request.app.state.runtime
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return _text(422, "Ответы не сохранены", "Слишком длинный ответ.")
    form = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    ctx = RequestContext(actor=Actor.anonymous(Channel.MOBILE), request_id=request_id_of(request.scope))
    try:
        async with UnitOfWork(runtime, ctx) as uow:
            invitation = await service.invitation_by_token(uow.session, token)
            if invitation is None:
                return _text(404, "Опрос не найден", "Проверьте ссылку из сообщения.")
            await service.answer(uow, invitation, _answers(form), channel="link")
    except ProblemError as exc:
        status = 422 if exc.problem.code == "INVALID_INPUT" else 409
        return _text(status, "Ответы не сохранены" if status == 422 else "Спасибо!", exc.problem.message)
    return _text(200, "Спасибо!", "Ваши ответы сохранены. Они помогут поликлинике работать лучше.")


ROUTES = [survey_form, survey_answer]
