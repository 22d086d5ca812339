"""The infomat kiosk (/kiosk) in Chromium at 1080×1920 with touch and no mouse.

A patient identifies on the on-screen keypad, books, prints the ticket (the PDF is produced), and the
session is dropped after the idle time; then a wrong birth date five times locks the policy as the API does.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from playwright.async_api import Browser, Page, Route

from tests.browser.conftest import Demo, audit, keep_screenshot

PORTRAIT = {"width": 1080, "height": 1920}
MOSCOW = ZoneInfo("Europe/Moscow")


#: The printer, stood in for: the page prints a loaded PDF with ``frame.contentWindow.print()``; here that call
#: is counted (``body[data-print-jobs]``) instead of reaching headless Chromium's print path, whose renderer
#: crashes on a second PDF job in one page. What is printed is checked as the PDF the server sent.
PRINTER_DOUBLE = """
const real = Object.getOwnPropertyDescriptor(HTMLIFrameElement.prototype, "contentWindow");
Object.defineProperty(HTMLIFrameElement.prototype, "contentWindow", {
  get() {
    if (this.id !== "printer" || !String(this.src).startsWith("blob:")) return real.get.call(this);
    const jobs = document.body.dataset;
    return { print: () => { jobs.printJobs = String(Number(jobs.printJobs || 0) + 1); } };
  },
});
"""


async def _tap_digits(page: Page, digits: str) -> None:
    for digit in digits:
        await page.locator(f"#keypad button[data-key='{digit}']").tap()


async def _identify_by_keyboard(page: Page, policy: str, birth_digits: str) -> str:
    """Policy and birth date typed on a keyboard (or a scanner), Enter to go on; answers the alert's code."""
    await page.get_by_label("Номер полиса ОМС").fill("")
    await page.get_by_label("Номер полиса ОМС").focus()
    await page.keyboard.type(policy)
    await page.keyboard.press("Enter")  # the scanner's Enter moves on to the birth date
    await page.keyboard.type(birth_digits)
    await page.evaluate("document.querySelector('#alert').dataset.code = ''")
    async with page.expect_response(lambda r: r.url.endswith("/graphql")):
        await page.keyboard.press("Enter")
    await page.wait_for_function("document.querySelector('#alert').dataset.code !== ''")
    return str(await page.locator("#alert").get_attribute("data-code"))


async def test_a_kiosk_session_books_prints_the_ticket_and_is_reset_when_idle(
    demo: Demo, browser: Browser, screenshots: Path
) -> None:
    kiosk = demo.identity["kiosk"]
    private_key = Path(kiosk["private_key"]).read_text(encoding="ascii")  # noqa: ASYNC240 - before the browser
    patient, other = demo.identity["people"][1], demo.identity["people"][2]
    context = await browser.new_context(
        viewport=PORTRAIT, locale="ru-RU", timezone_id="Europe/Moscow", has_touch=True, is_mobile=False
    )
    await context.add_init_script(PRINTER_DOUBLE)
    page = await context.new_page()
    tickets: list[bytes] = []

    async def through(route: Route) -> None:  # the real answer, kept to look at the PDF
        response = await route.fetch()
        tickets.append(await response.body())
        await route.fulfill(response=response)

    await page.route("**/api/v1/booking/tickets/*", through)
    try:
        await page.clock.install()
        await page.goto(f"{demo.base}/kiosk")
        await page.wait_for_selector("body[data-ready=true]")
        await audit(page, "kiosk: the engineer's setup")

        # The engineer's one-time setup: the device's key goes into WebCrypto (not extractable).
        await page.get_by_label("Идентификатор инфомата").fill(kiosk["client_id"])
        await page.get_by_label("Закрытый ключ").fill(private_key)
        await page.get_by_role("button", name="Сохранить").tap()
        await page.wait_for_selector("#screen-start:not([hidden])")
        await audit(page, "kiosk: the start screen with its keypad")
        keep_screenshot(screenshots, "kiosk-start-1080x1920", await page.screenshot())

        # The patient taps the policy and birth date on the on-screen keypad.
        await page.get_by_label("Номер полиса ОМС").tap()
        await _tap_digits(page, patient["oms_policy"])
        await page.get_by_label("Дата рождения").tap()
        await _tap_digits(page, "".join(reversed(patient["birth_date"].split("-"))))
        assert await page.get_by_label("Дата рождения").input_value() == ".".join(
            reversed(patient["birth_date"].split("-"))
        )
        await page.get_by_role("button", name="Продолжить").tap()
        await page.wait_for_selector("#screen-home:not([hidden])")
        last, first, middle = patient["name"].split()
        assert await page.locator("#greeting").text_content() == f"Здравствуйте, {last} {first[0]}. {middle[0]}."
        await audit(page, "kiosk: the menu")

        # Book a visit.
        await page.get_by_role("button", name="Записаться к врачу").tap()
        await page.get_by_role("button", name="Терапевт").tap()
        first_time = page.locator("#book-choices .times button").first
        await first_time.wait_for()
        await audit(page, "kiosk: doctors and times")
        keep_screenshot(screenshots, "kiosk-booking-1080x1920", await page.screenshot())
        chosen = str(await first_time.get_attribute("aria-label"))
        await first_time.tap()
        await page.get_by_role("button", name="Да, записаться").tap()
        await page.wait_for_selector("#screen-booked:not([hidden])")
        await audit(page, "kiosk: booked")

        # Print the ticket: the server's PDF reaches the page.
        await page.get_by_role("button", name="Напечатать талон").tap()
        await page.wait_for_selector("body[data-printed]")
        assert len(tickets) == 1 and tickets[0].startswith(b"%PDF") and len(tickets[0]) > 2000
        assert "Талон напечатан" in str(await page.locator("#status").text_content())
        await page.wait_for_selector("body[data-print-jobs='1']")  # the loaded PDF went to the printer

        # Today's appointments: the new one is there when it is today (Moscow time).
        await page.get_by_role("button", name="В начало").tap()
        await page.get_by_role("button", name="Мои записи на сегодня и талоны").tap()
        await page.wait_for_selector("#screen-today:not([hidden])")
        today_items = await page.locator("#today li").all_text_contents()
        booked_day = chosen.split(",", maxsplit=1)[0]  # e.g. "7 декабря в 08:00"
        is_today = datetime.now(MOSCOW).day == int(booked_day.split()[0])
        assert any("Напечатать талон" in item for item in today_items) == is_today

        # Nobody touches the screen: the session is dropped and the start screen comes back.
        await page.clock.fast_forward("01:05")
        await page.wait_for_selector("#screen-start:not([hidden])")
        assert await page.locator("#greeting").text_content() == ""
        assert "долго не было действий" in str(await page.locator("#status").text_content())

        # Five wrong birth dates lock the policy; the sixth try, even right, is refused as the API says.
        wrong = "01011950"
        codes = [await _identify_by_keyboard(page, other["oms_policy"], wrong) for _ in range(5)]
        assert codes == ["PATIENT_NOT_IDENTIFIED"] * 5
        right = "".join(reversed(other["birth_date"].split("-")))
        assert await _identify_by_keyboard(page, other["oms_policy"], right) == "IDENTIFICATION_LOCKED"
        assert await page.locator("#screen-start").is_visible()
    finally:
        await context.close()


async def test_a_kiosk_prints_the_digital_policy_and_the_vaccination_certificate(
    demo: Demo, browser: Browser, screenshots: Path
) -> None:
    """The extras of the menu: the OMS policy from the ЕРЗЛ and the signed vaccination certificate, each a PDF
    fetched with the kiosk session's token and sent to the printer."""
    kiosk = demo.identity["kiosk"]
    private_key = Path(kiosk["private_key"]).read_text(encoding="ascii")  # noqa: ASYNC240 - before the browser
    person = demo.seed["insurance"]
    context = await browser.new_context(viewport=PORTRAIT, locale="ru-RU", timezone_id="Europe/Moscow", has_touch=True)
    await context.add_init_script(PRINTER_DOUBLE)
    page = await context.new_page()
    printed: dict[str, bytes] = {}

    async def through(route: Route) -> None:  # the real answer, kept to look at the PDF
        response = await route.fetch()
        printed[route.request.url] = await response.body()
        await route.fulfill(response=response)

    await page.route("**/api/v1/insurance/policy.pdf", through)
    await page.route("**/api/v1/vaccination/certificates/*", through)
    try:
        await page.goto(f"{demo.base}/kiosk")
        await page.wait_for_selector("body[data-ready=true]")
        await page.get_by_label("Идентификатор инфомата").fill(kiosk["client_id"])
        await page.get_by_label("Закрытый ключ").fill(private_key)
        await page.get_by_role("button", name="Сохранить").tap()
        await page.wait_for_selector("#screen-start:not([hidden])")
        await page.get_by_label("Номер полиса ОМС").tap()
        await _tap_digits(page, person["oms_policy"])
        await page.get_by_label("Дата рождения").tap()
        await _tap_digits(page, "".join(reversed(person["birth_date"].split("-"))))
        await page.get_by_role("button", name="Продолжить").tap()
        await page.wait_for_selector("#extras button[data-extra=MyInsurancePolicy]")
        await audit(page, "kiosk: the menu with the extras")
        keep_screenshot(screenshots, "kiosk-menu-1080x1920", await page.screenshot())

        await page.get_by_role("button", name="Напечатать сертификат о прививках").tap()
        await page.wait_for_selector("body[data-printed=vaccination-certificate], #alert:not([hidden])")
        assert await page.locator("#alert").is_hidden(), await page.locator("#alert").text_content()
        [certificate] = [body for url, body in printed.items() if "/vaccination/certificates/" in url]
        assert certificate.startswith(b"%PDF") and len(certificate) > 2000
        assert "Сертификат о прививках напечатан" in str(await page.locator("#status").text_content())
        await page.wait_for_selector("body[data-print-jobs='1']")
        await page.get_by_role("button", name="Напечатать полис ОМС").tap()
        await page.wait_for_selector("body[data-printed=insurance-policy], #alert:not([hidden])")
        assert await page.locator("#alert").is_hidden(), await page.locator("#alert").text_content()
        [policy] = [body for url, body in printed.items() if url.endswith("/policy.pdf")]
        assert policy.startswith(b"%PDF") and len(policy) > 2000
        assert "Полис ОМС напечатан" in str(await page.locator("#status").text_content())
        await page.wait_for_selector("body[data-print-jobs='2']")

        await audit(page, "kiosk: printed")
    finally:
        await context.close()
