// Vaccination for the caller: the calendar's due and overdue doses (VaccinationCalendar) and booking the due
// dose in one step in the vaccination room of their clinic (BookVaccination). The operator books; a certificate
// is never issued by phone (the kiosk and the app print it). Only graphql/callcentre/ documents.
import { el, expect, format, key } from "../api.js";

export async function mount(panel, ctx) {
  const { api, token, status, action, refreshCall } = ctx;
  const run = (operation, variables) => api.run(operation, variables, token);
  const list = el("ul", { class: "list", id: "vaccination-due" });
  const booked = el("ul", { class: "list", id: "vaccination-booked" });
  const heading = el("h4", { hidden: true }, "Записи на прививку");
  // The calendar is medical data: read (and audited) when the caller asks, not on identification.
  const open = el("button", {
    type: "button", class: "quiet",
    onclick: action(async () => { await load(); open.hidden = true; heading.hidden = false; await refreshCall(); }),
  }, "Показать календарь прививок");
  panel.append(el("h3", { id: "vaccination-title" }, "Прививки"), open, list, heading, booked);

  async function load() {
    const calendar = (await run("VaccinationCalendar")).vaccinationCalendar;
    const due = calendar.due.filter((d) => d.bookable);
    list.replaceChildren(
      ...due.map((d) =>
        el("li", { dataset: { infection: d.infection.code } },
          el("span", {}, `${d.infection.name}: ${d.label} — ${d.explanation}`),
          el("button", {
            type: "button", class: "quiet", "aria-label": `Записать на прививку: ${d.infection.name}`,
            onclick: action(() => book(d)),
          }, "Записать"),
        )),
    );
    if (!due.length) list.append(el("li", {}, calendar.warning || "Сейчас прививок по календарю не требуется."));
    booked.replaceChildren(...calendar.appointments.map((a) =>
      el("li", {}, `${a.label}: ${format.dateTime(a.appointment.start)}, ${a.appointment.moName}${a.appointment.room ? `, кабинет ${a.appointment.room}` : ""}`)));
    if (!calendar.appointments.length) booked.append(el("li", {}, "Записей на прививку нет."));
  }

  async function book(dose) {
    const data = await run("BookVaccination", { infection: dose.infection.code, idempotencyKey: key() });
    const result = data.bookVaccination;
    await refreshCall();
    if (result.__typename === "VaccinationTooEarly" && result.earliest) {
      status(`${dose.infection.name}: рано, можно с ${new Date(result.earliest).toLocaleDateString("ru-RU")}.`);
      return;
    }
    const booking = expect(result, "VaccinationBooked").booking;
    status(`Записан на прививку: ${booking.label}, ${format.dateTime(booking.appointment.start)}, ${booking.appointment.moName}.`);
    await load();
  }
}
