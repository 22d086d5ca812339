// «Где моё лекарство»: the caller's prescriptions (MyPrescriptions), the pharmacies that have the drug, nearest
// first with their hours (PharmacyAvailability), and, when none has it, deferred service at a chosen pharmacy
// (DeferPrescription). Only graphql/callcentre/ documents, with the caller's on-behalf token.
import { ApiError, el, expect, key } from "../api.js";

const LIVE = new Set(["ISSUED", "PARTIALLY_DISPENSED", "DEFERRED"]);

export async function mount(panel, ctx) {
  const { api, token, status, action, refreshCall } = ctx;
  const run = (operation, variables) => api.run(operation, variables, token);
  const list = el("ul", { class: "list", id: "drug-prescriptions" });
  const where = el("div", { id: "drug-where", "aria-live": "polite" });
  // Prescriptions are medical data: read (and audited) when the caller asks, not on identification.
  const open = el("button", { type: "button", class: "quiet", onclick: action(load) }, "Показать льготные рецепты");
  panel.append(el("h3", { id: "drugs-title" }, "Где лекарство по рецепту"), open, list, where);

  async function load() {
    const data = await run("MyPrescriptions", {});
    const found = expect(data.myPrescriptions, "PrescriptionList");
    const live = found.prescriptions.filter((p) => LIVE.has(p.status));
    list.replaceChildren(
      ...live.map((p) =>
        el("li", { dataset: { prescription: p.id } },
          el("span", {}, `${p.mnn} ${p.dosage || ""} — № ${p.series} ${p.number}, до ${new Date(p.validUntil).toLocaleDateString("ru-RU")}`,
            p.deferral ? ` (отложен в аптеке: ${p.deferral.pharmacyName})` : ""),
          el("button", {
            type: "button", class: "quiet", "aria-label": `Где есть: ${p.mnn} ${p.dosage || ""}`,
            onclick: action(() => show(p)),
          }, "Где есть"),
        ),
      ),
    );
    if (!live.length) list.append(el("li", {}, "Действующих льготных рецептов нет."));
    open.hidden = true;
    await refreshCall();
    list.querySelector("button")?.focus();
  }

  async function show(prescription) {
    const answer = await run("PharmacyAvailability", { prescriptionId: prescription.id });
    const availability = expect(answer.pharmacyAvailability, "PharmacyAvailability");
    await refreshCall();
    const title = el("h4", {}, availability.drug);
    if (availability.inStock.length) {
      where.replaceChildren(title, el("ul", { class: "list", id: "drug-in-stock" },
        availability.inStock.slice(0, 5).map((ph) =>
          el("li", {}, `${ph.name}, ${ph.address}; ${ph.hoursText}${ph.openNow ? " (открыта)" : " (закрыта)"}; в наличии: ${ph.quantity}`)),
      ));
      status(`${availability.drug}: есть в аптеках — ${availability.inStock.length}.`);
      return;
    }
    const choose = el("select", { id: "drug-pharmacy", name: "pharmacy" },
      availability.deferralOptions.map((ph) => el("option", { value: ph.id }, `${ph.name}, ${ph.address} (${ph.hoursText})`)));
    const form = el("form", { id: "drug-defer-form", novalidate: true },
      el("p", {}, "Сейчас ни в одной аптеке нет. Можно поставить рецепт на отложенное обслуживание: аптека закажет лекарство и сообщит в СМС."),
      el("label", { for: "drug-pharmacy" }, "Аптека для отложенного обслуживания"),
      choose,
      el("button", { type: "submit" }, "Поставить на отложенное обслуживание"),
    );
    form.addEventListener("submit", action(async () => {
      if (!choose.value) throw new ApiError("INVALID_INPUT", "Выберите аптеку.");
      const deferred = await run("DeferPrescription", {
        prescriptionId: prescription.id, pharmacyId: choose.value, idempotencyKey: key(),
      });
      await refreshCall();
      const done = expect(deferred.deferPrescription, "PrescriptionDeferred").prescription;
      const due = done.deferral && done.deferral.dueOn ? `, ожидается до ${new Date(done.deferral.dueOn).toLocaleDateString("ru-RU")}` : "";
      status(`Рецепт поставлен на отложенное обслуживание: ${done.deferral ? done.deferral.pharmacyName : choose.selectedOptions[0].textContent}${due}.`);
    }));
    where.replaceChildren(title, form);
    status(`${availability.drug}: нет в наличии.`);
  }
}
