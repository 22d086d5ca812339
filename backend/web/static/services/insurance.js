// A complaint to the caller's insurer (or the ТФОМС) taken over the phone: category, addressee, the caller's
// words (OpenInsuranceTicket); the answer is due in 30 days and reaches the caller by SMS and in the app.
// Only graphql/callcentre/ documents, with the caller's on-behalf token.
import { ApiError, el, expect, key } from "../api.js";

// The complaint categories of backend/insurance/service/tickets.py (a dispute of billed care needs the
// case from the app's list, so the console takes complaints).
const CATEGORIES = [
  ["waiting_time", "Нарушены сроки ожидания помощи"],
  ["refusal", "Отказ в оказании помощи"],
  ["payment_demanded", "Требовали оплату за бесплатную помощь"],
  ["quality", "Качество медицинской помощи"],
  ["other", "Другое"],
];
const ADDRESSEES = [["smo", "Страховая медицинская организация"], ["tfoms", "ТФОМС"]];

export async function mount(panel, ctx) {
  const { api, token, status, action, refreshCall } = ctx;
  const category = el("select", { id: "complaint-category", name: "category", required: true },
    el("option", { value: "" }, "— выберите —"), CATEGORIES.map(([v, label]) => el("option", { value: v }, label)));
  const addressee = el("select", { id: "complaint-addressee", name: "addressee" },
    ADDRESSEES.map(([v, label]) => el("option", { value: v }, label)));
  const text = el("textarea", { id: "complaint-text", name: "description", rows: "3", maxlength: "4000", required: true });
  const form = el("form", { id: "complaint-form", novalidate: true, "aria-labelledby": "complaint-title" },
    el("label", { for: "complaint-category" }, "Суть жалобы"), category,
    el("label", { for: "complaint-addressee" }, "Кому"), addressee,
    el("label", { for: "complaint-text" }, "Что произошло (со слов звонящего)"), text,
    el("button", { type: "submit" }, "Подать жалобу"),
  );
  const result = el("p", { id: "complaint-result" });
  let insurer = null;
  panel.append(el("h3", { id: "complaint-title" }, "Жалоба в страховую компанию"), form, result);
  form.addEventListener("submit", action(async () => {
    if (!category.value) throw new ApiError("INVALID_INPUT", "Выберите суть жалобы.");
    if (!text.value.trim()) throw new ApiError("INVALID_INPUT", "Запишите, что произошло.");
    // The caller's policy first (the register's answer, kept by the server): whose insurer the complaint
    // goes to, and the ticket then finds the policy already read.
    if (api.has("MyInsurancePolicy") && !insurer) {
      const answer = (await api.run("MyInsurancePolicy", {}, token)).myInsurancePolicy;
      const policy = expect(answer, "InsurancePolicy");
      insurer = policy.insurer ? policy.insurer.name : policy.statusLabel;
    }
    const data = await api.run("OpenInsuranceTicket", {
      input: { kind: "COMPLAINT", category: category.value, description: text.value.trim(), addressee: addressee.value },
      idempotencyKey: key(),
    }, token);
    let ticket;
    try {
      ticket = expect(data.openInsuranceTicket, "InsuranceTicketOpened").ticket;
    } finally {
      await refreshCall();
    }
    form.reset();
    const due = new Date(ticket.dueOn).toLocaleDateString("ru-RU");
    const to = ticket.addressee === "tfoms" ? "ТФОМС" : insurer || "страховая компания";
    result.textContent = `Жалоба принята (${to}): «${ticket.categoryLabel}», ${ticket.statusLabel}; ответ до ${due}.`;
    status(`Жалоба принята, ответ до ${due}: звонящий получит его в СМС и в приложении.`);
  }));
}
