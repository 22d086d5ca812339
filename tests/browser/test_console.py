"""The 122 operator's console (/console) in Chromium: a whole call, as the issue describes it.

The operator logs in with a TOTP, takes a call, identifies the caller, books, is refused a cancellation
without the caller's SMS code, enters the code, cancels, closes the call with its outcome, and the shift's
view counts it. The page speaks only the console's registered documents, sent by hash.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyotp
from playwright.async_api import Browser, Page, Request

from tests.browser.conftest import Demo, keep_screenshot

DESKTOP = {"width": 1920, "height": 1080}


def _ddmmyyyy(iso: str) -> str:
    return ".".join(reversed(iso.split("-")))


async def _status(page: Page, contains: str) -> str:
    await page.wait_for_function(
        "text => document.querySelector('#status').textContent.includes(text)", arg=contains, timeout=20_000
    )
    return str(await page.locator("#status").text_content())


async def test_an_operator_books_cancels_with_the_code_and_closes_the_call(
    demo: Demo, browser: Browser, screenshots: Path
) -> None:
    operator = demo.identity["operator"]
    caller = demo.identity["people"][0]
    context = await browser.new_context(viewport=DESKTOP, locale="ru-RU", timezone_id="Europe/Moscow")
    page = await context.new_page()
    sent: list[dict[str, Any]] = []

    def record(request: Request) -> None:
        if request.url.endswith("/graphql") and request.method == "POST":
            sent.append(json.loads(request.post_data or "{}"))

    page.on("request", record)
    try:
        await page.goto(f"{demo.base}/console")
        await page.wait_for_selector("body[data-ready=true]")

        # Login: password + TOTP.
        await page.get_by_label("Логин").fill(operator["login"])
        await page.get_by_label("Пароль").fill(operator["password"])
        await page.get_by_label("Одноразовый код").fill(pyotp.TOTP(operator["totp_secret"]).now())
        await page.get_by_role("button", name="Войти").click()
        await page.wait_for_selector("#workspace:not([hidden])")
        assert await page.locator("#operator").text_content() == "Демо Оператор 122"

        # A call comes in; the caller is identified by policy + birth date (an SMS code is sent to them).
        await page.get_by_label("Номер звонящего").fill(caller["phone"])
        await page.get_by_role("button", name="Принять звонок").click()
        await page.wait_for_selector("#call-open:not([hidden])")
        await page.get_by_label("Номер полиса ОМС или СНИЛС").fill(caller["oms_policy"])
        await page.get_by_label("Дата рождения").fill(_ddmmyyyy(caller["birth_date"]))
        await page.get_by_role("button", name="Найти звонящего").click()
        await page.wait_for_selector("#caller-card:not([hidden])")
        last, first, middle = caller["name"].split()
        assert await page.locator("#caller-name").text_content() == f"{last} {first[0]}. {middle[0]}."
        scopes = str(await page.locator("#caller-scopes").text_content())
        assert "записать на приём" in scopes and "отменить" not in scopes

        # Search and book.
        await page.get_by_label("Специальность").select_option(label="Терапевт")
        await page.get_by_role("button", name="Найти время").click()
        await page.locator("#slots .times button").first.click()
        await _status(page, "Записан:")
        booked = page.locator("#appointments li[data-appointment]")
        assert await booked.count() == 1

        # Cancelling needs the caller's code: refused, nothing changes.
        await booked.get_by_role("button", name="Отменить").click()
        await page.wait_for_selector("#alert:not([hidden])")
        assert await page.locator("#alert").get_attribute("data-code") == "CONFIRMATION_REQUIRED"
        assert await booked.count() == 1

        # The caller dictates the code; the cancellation goes through.
        await page.get_by_label("Код из СМС").fill(demo.sms_code_for(caller["phone"]))
        await page.get_by_role("button", name="Подтвердить код").click()
        await page.wait_for_selector("#code-form", state="hidden")
        assert "отменить и перенести запись" in str(await page.locator("#caller-scopes").text_content())
        await booked.get_by_role("button", name="Отменить").click()
        await _status(page, "отменена")
        assert await page.locator("#appointments li[data-appointment]").count() == 0

        # The call's actions come from the audit trail, the refused cancellation among them.
        actions = [str(t) for t in await page.locator("#call-actions li").all_text_contents()]
        assert any("Оператор 122 открыл сеанс от вашего имени" in a for a in actions)
        assert any("Запись на прием" in a for a in actions)
        assert any("Отмена записи: Нужен код из СМС" in a for a in actions)
        assert any(a.endswith("Отмена записи") for a in actions)
        await page.get_by_label("Итог звонка").select_option(label="Запись отменена")
        await page.get_by_label("Комментарий").fill("Перезапишется сам через приложение")
        keep_screenshot(screenshots, "console-1920x1080", await page.screenshot())

        # Closing the call: its outcome, and the shift's view counts it.
        await page.get_by_role("button", name="Завершить звонок").click()
        closed = await _status(page, "Звонок завершён: Запись отменена")
        assert "действий: " in closed
        await page.wait_for_selector("#open-call-form:not([hidden])")
        assert await page.locator("#kpi-total").text_content() == "1"
        assert await page.locator("#kpi-open").text_content() == "0"
        row = page.locator("#kpi-outcomes tr[data-outcome=CANCELLED] td")
        assert await row.all_text_contents() == ["Запись отменена", "1"]
        assert [int(c) for c in await page.locator("#kpi-hours tbody td:nth-child(2)").all_text_contents()] == [1]
    finally:
        await context.close()

    # Only registered documents, by hash: no query text ever left the page.
    assert sent and all("query" not in body and body["extensions"]["persistedQuery"]["sha256Hash"] for body in sent)
    assert {b["operationName"] for b in sent} >= {
        "StaffLogin",
        "OpenCall",
        "OpenOnBehalfSession",
        "SearchSlots",
        "BookAppointment",
        "CancelAppointment",
        "ConfirmOnBehalfCode",
        "CloseCall",
        "CallsKpi",
    }
