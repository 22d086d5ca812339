// The waitlist for the caller: join for a specialty at their attached clinic over a date range (JoinWaitlist;
// refused in Russian while free time exists: then book instead), see their entries and places (MyWaitlist),
// leave one (LeaveWaitlist). Only graphql/callcentre/ documents, with the caller's on-behalf token.
import { ApiError, el, expect, format, key, todayIso } from "../api.js";

export async function mount(panel, ctx) {
  const { api, token, status, action, refreshCall } = ctx;
  const run = (operation, variables) => api.run(operation, variables, token);
  const [reference, attachment] = await Promise.all([
    run("Reference"),
    api.has("MyAttachment") ? run("MyAttachment", {}) : Promise.resolve({ myAttachment: null }),
  ]);
  const clinic = attachment.myAttachment && attachment.myAttachment.__typename === "Attachment" ? attachment.myAttachment : null;
  const entries = el("ul", { class: "list", id: "waitlist-entries" });
  panel.append(el("h3", { id: "waitlist-title" }, "Лист ожидания"));
  if (!clinic) {
    panel.append(el("p", {}, "Звонящий не прикреплён к поликлинике: лист ожидания ведёт поликлиника прикрепления."), entries);
    await load();
    return;
  }
  const specialty = el("select", { id: "waitlist-specialty", name: "specialty", required: true },
    el("option", { value: "" }, "— выберите —"),
    reference.specialties.map((s) => el("option", { value: s.code }, s.name)));
  const from = el("input", { id: "waitlist-from", name: "from", type: "date", value: todayIso(), required: true });
  const to = el("input", { id: "waitlist-to", name: "to", type: "date", required: true });
  const phone = el("input", { id: "waitlist-phone", name: "phone", type: "tel", autocomplete: "off" });
  const outOfTurn = el("input", { id: "waitlist-out-of-turn", type: "checkbox", name: "outOfTurn" });
  const form = el("form", { id: "waitlist-form", novalidate: true, "aria-labelledby": "waitlist-title" },
    el("p", {}, `Поликлиника: ${clinic.moName}`),
    el("label", { for: "waitlist-specialty" }, "Какой врач нужен (лист ожидания)"), specialty,
    el("label", { for: "waitlist-from" }, "Ждёт приёма с"), from,
    el("label", { for: "waitlist-to" }, "Ждёт приёма по"), to,
    el("label", { for: "waitlist-phone" }, "Телефон для связи (пусто — из профиля)"), phone,
    el("label", { class: "inline" }, outOfTurn, " Внеочередное право (документы проверены)"),
    el("button", { type: "submit" }, "Поставить в лист ожидания"),
  );
  form.addEventListener("submit", action(async () => {
    if (!specialty.value) throw new ApiError("INVALID_INPUT", "Выберите специальность.");
    if (!from.value || !to.value) throw new ApiError("INVALID_INPUT", "Укажите период ожидания.");
    const data = await run("JoinWaitlist", {
      input: {
        moId: clinic.moId,
        specialtyCode: specialty.value,
        dateFrom: from.value,
        dateTo: to.value,
        phone: phone.value.trim() || null,
        outOfTurn: outOfTurn.checked,
      },
      idempotencyKey: key(),
    });
    try {
      const entry = expect(data.joinWaitlist, "WaitlistJoined").entry;
      status(`В листе ожидания: ${entry.specialtyName}, ${entry.moName}; место в очереди: ${entry.position ?? "—"}.`);
    } finally {
      await refreshCall();
    }
    form.reset();
    from.value = todayIso();
    await load();
  }));
  panel.append(form, el("h4", {}, "Ожидает приёма"), entries);
  await load();

  async function load() {
    const data = await run("MyWaitlist", {});
    const active = data.myWaitlist.filter((e) => e.status === "waiting" || e.status === "offered");
    entries.replaceChildren(
      ...active.map((e) =>
        el("li", { dataset: { entry: e.id } },
          el("span", {}, `${e.specialtyName}${e.doctorName ? `, ${e.doctorName}` : ""}: ${format.date(e.dateFrom)} — ${format.date(e.dateTo)}; ${e.statusLabel}`),
          el("button", { type: "button", class: "quiet", onclick: action(() => leave(e)) }, "Убрать"),
        )),
    );
    if (!active.length) entries.append(el("li", {}, "В листе ожидания ничего нет."));
  }

  async function leave(entry) {
    const data = await run("LeaveWaitlist", { entryId: entry.id, idempotencyKey: key() });
    try {
      expect(data.leaveWaitlist, "WaitlistLeft");
    } finally {
      await refreshCall();
    }
    status(`Убран из листа ожидания: ${entry.specialtyName}.`);
    await load();
  }
}

