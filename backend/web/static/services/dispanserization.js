// Dispanserization or the preventive exam for the caller: whether it is due this year and its first stage's
// examinations (Dispanserization), the days when the whole stage fits at their clinic (DispanserizationDays),
// the plan booked all or nothing on the day chosen (BookDispanserizationPlan). Only graphql/callcentre/
// documents, with the caller's on-behalf token.
import { el, expect, format, key, todayIso } from "../api.js";

const KINDS = { dispanserization: "Диспансеризация", preventive: "Профилактический медицинский осмотр" };

export async function mount(panel, ctx) {
  const { api, token, status, action, refreshCall } = ctx;
  const run = (operation, variables) => api.run(operation, variables, token);
  const body = el("div", { id: "dispanserization-body" });
  const open = el("button", { type: "button", class: "quiet", onclick: action(load) }, "Показать, что положено в этом году");
  panel.append(el("h3", { id: "dispanserization-title" }, "Диспансеризация"), open, body);

  async function load() {
    const found = (await run("Dispanserization", {})).dispanserization;
    await refreshCall();
    open.hidden = true;
    if (!found.kind) {
      body.replaceChildren(el("p", {}, `В этом году не положено; следующая — в ${found.nextDispanserizationYear || "—"} году.`));
      return;
    }
    const title = `${KINDS[found.kind] || found.kind} ${found.year} (${found.age} лет)`;
    body.replaceChildren(
      el("p", {}, title),
      el("ul", {}, found.exams.map((e) => el("li", {}, `${e.name}${e.booked ? " — записан" : ""}`))),
    );
    if (found.planId) {
      body.append(el("p", {}, "Уже записан: маршрут в приложении и в СМС."));
      return;
    }
    const days = (await run("DispanserizationDays", { dateFrom: todayIso() })).dispanserizationDays;
    if (!days.length) {
      body.append(el("p", {}, "В ближайшие дни весь первый этап в поликлинике не помещается: предложите позвонить позже."));
      return;
    }
    body.append(el("h4", {}, "Дни, когда весь этап помещается в один визит"),
      el("ul", { class: "list" }, days.map((d) =>
        el("li", {},
          el("span", {}, `${format.date(d.day)}: ${d.steps.length} кабинетов, с ${format.time(d.steps[0].slot.start)}`),
          el("button", {
            type: "button", class: "quiet", "aria-label": `Записать на диспансеризацию ${format.date(d.day)}`,
            onclick: action(() => book(d)),
          }, "Записать"),
        ))));
  }

  async function book(day) {
    const data = await run("BookDispanserizationPlan", { slots: day.steps.map((s) => s.slot.id), idempotencyKey: key() });
    let plan;
    try {
      plan = expect(data.bookDispanserizationPlan, "PlanBooked").plan;
    } finally {
      await refreshCall();
    }
    body.replaceChildren(el("p", {}, `Записан на ${format.date(plan.day)}:`),
      el("ol", {}, plan.items.map((i) =>
        el("li", {}, `${format.time(i.appointment.start)} — ${i.exams.map((e) => e.name).join(", ")}${i.appointment.room ? `, кабинет ${i.appointment.room}` : ""}`))));
    status(`Записан на диспансеризацию ${format.date(plan.day)}: ${plan.items.length} кабинетов за один визит.`);
  }
}
