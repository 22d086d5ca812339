// The 122 operator's console: log in (password + TOTP), take a call, identify the caller, act for them with
// their on-behalf session (book, cancel or reschedule after their SMS code, call a doctor home), close the
// call with its outcome; the shift's calls per hour and outcome. Only graphql/callcentre/ documents.
import { Api, ApiError, el, expect, format, isoDate, key, todayIso } from "./api.js";

const api = new Api("callcentre");
const $ = (id) => document.getElementById(id);

const SCOPE_LABELS = {
  booking: "записать на приём",
  tickets: "талоны",
  profile: "сведения о звонящем",
  home_visits: "вызвать врача на дом",
  attachment: "прикрепление к поликлинике",
  vaccination: "прививки по календарю",
  drugs: "льготные рецепты и где лекарство",
  insurance_policy: "полис ОМС",
  insurance_complaints: "жалоба в страховую компанию",
  sensitive: "отменить и перенести запись (личность подтверждена кодом из СМС)",
};

// The services other domains bring: a panel appears when the console's documents include its operation
// (graphql/callcentre/<Operation>.graphql) and the caller's session has its scope; its module (./services/)
// exports mount(container, context) and speaks only registered documents with the caller's token.
const SERVICES = [
  { operation: "JoinWaitlist", scope: "booking", module: "./services/waitlist.js" },
  { operation: "PharmacyAvailability", scope: "drugs", module: "./services/drugs.js" },
  { operation: "OpenInsuranceTicket", scope: "insurance_complaints", module: "./services/insurance.js" },
  { operation: "BookVaccination", scope: "vaccination", module: "./services/vaccination.js" },
  { operation: "BookDispanserizationPlan", scope: "booking", module: "./services/dispanserization.js" },
];

const state = {
  staffToken: null,
  operator: null,
  call: null,
  timer: null,
  caller: null, // { token, patient, scopes }
  rescheduling: null,
  outcomes: [],
};

function status(text) {
  $("alert").hidden = true;
  $("status").textContent = text;
}

function fail(error) {
  const alert = $("alert");
  alert.textContent = error instanceof ApiError || error instanceof Error ? error.message : String(error);
  alert.dataset.code = (error && error.code) || "ERROR";
  alert.hidden = false;
  $("status").textContent = "";
}

// Runs an action of a form or button: its errors shown, its buttons disabled meanwhile.
function action(fn) {
  return async (event) => {
    if (event) event.preventDefault();
    const button = event && (event.submitter || (event.currentTarget instanceof HTMLButtonElement ? event.currentTarget : null));
    if (button) button.disabled = true;
    try {
      await fn(event);
    } catch (error) {
      fail(error);
    } finally {
      if (button) button.disabled = false;
    }
  };
}

const staff = (operation, variables) => api.run(operation, variables, state.staffToken);
const forCaller = (operation, variables) => api.run(operation, variables, state.caller && state.caller.token);

// ------------------------------------------------------------------------------------------ login

async function login() {
  const form = $("login-form");
  const data = await api.run("StaffLogin", {
    login: form.login.value.trim(),
    password: form.password.value,
    totpCode: form.totp.value.trim(),
  });
  const session = expect(data.staffLogin, "StaffSession");
  state.staffToken = session.accessToken;
  state.operator = session.operator;
  form.reset();
  $("login").hidden = true;
  $("workspace").hidden = false;
  $("operator").textContent = `${session.operator.fullName}`;
  $("operator").hidden = false;
  $("logout").hidden = false;
  status(`Вы вошли: ${session.operator.fullName}.`);
  await Promise.all([loadCall(), loadKpi(), loadReference()]);
  $("caller-phone").focus();
}

function logout() {
  Object.assign(state, { staffToken: null, operator: null, call: null, caller: null, rescheduling: null });
  clearInterval(state.timer);
  $("workspace").hidden = true;
  $("login").hidden = false;
  $("operator").hidden = true;
  $("logout").hidden = true;
  status("Вы вышли.");
  $("login-name").focus();
}

// ------------------------------------------------------------------------------------------ the call

async function loadCall() {
  const data = await staff("CurrentCall");
  state.outcomes = data.callOutcomes;
  const select = $("call-outcome");
  if (!select.options.length) {
    select.append(el("option", { value: "" }, "— выберите итог —"));
    for (const o of data.callOutcomes) select.append(el("option", { value: o.outcome }, o.label));
  }
  state.call = data.currentCall;
  clearInterval(state.timer);
  $("open-call-form").hidden = Boolean(state.call);
  $("call-open").hidden = !state.call;
  if (!state.call) {
    $("by-phone").hidden = true;
    return;
  }
  $("call-phone").textContent = state.call.callerPhone ? `с номера ${state.call.callerPhone}` : "";
  $("by-phone").hidden = !(state.call.callerPhone && api.has("CallerCandidates")) || Boolean(state.caller);
  const tick = () => {
    $("call-timer").textContent = format.duration((Date.now() - new Date(state.call.openedAt).getTime()) / 1000);
  };
  tick();
  state.timer = setInterval(tick, 1000);
  const log = $("call-actions");
  log.replaceChildren(
    ...state.call.actions.map((a) =>
      el("li", { class: a.outcome === "ok" ? null : "refused" },
        `${format.time(a.at)} ${a.label}${a.outcome === "ok" ? "" : `: ${a.outcomeLabel}`}`),
    ),
  );
  if (!state.call.actions.length) log.append(el("li", {}, "Пока ничего."));
}

async function openCall() {
  const phone = $("caller-phone").value.trim();
  const data = await staff("OpenCall", { callerPhone: phone || null, idempotencyKey: key() });
  expect(data.openCall, "CallOpened");
  $("caller-phone").value = "";
  await loadCall();
  if (!$("by-phone").hidden) {
    status("Звонок принят. Найдите звонящего по номеру звонка или по полису (СНИЛС) и дате рождения.");
    $("by-phone-find").focus();
  } else {
    status("Звонок принят. Найдите звонящего по полису или СНИЛС и дате рождения.");
    $("caller-document").focus();
  }
}

async function closeCall() {
  const outcome = $("call-outcome").value;
  if (!outcome) throw new ApiError("INVALID_INPUT", "Выберите итог звонка.");
  const data = await staff("CloseCall", {
    callId: state.call.id,
    outcome,
    note: $("call-note").value.trim() || null,
    idempotencyKey: key(),
  });
  const closed = expect(data.closeCall, "CallClosed").call;
  $("close-call-form").reset();
  forgetCaller();
  status(`Звонок завершён: ${closed.outcomeLabel}, ${format.duration(closed.durationSeconds)}, действий: ${closed.actions.length}.`);
  await Promise.all([loadCall(), loadKpi()]);
  $("caller-phone").focus();
}

// ------------------------------------------------------------------------------------------ the caller

async function identify() {
  if (!state.call) throw new ApiError("NO_CALL", "Сначала примите звонок: действия записываются в звонок.");
  const form = $("identify-form");
  const birthDate = isoDate(form.birth.value);
  if (!birthDate) throw new ApiError("INVALID_INPUT", "Дата рождения: ДД.ММ.ГГГГ, например 15.03.1980.");
  const documentNumber = form.document.value.replace(/\D/g, "");
  const bySnils = form.doc.value === "snils";
  const data = await api.run(
    "OpenOnBehalfSession",
    {
      birthDate,
      omsPolicy: bySnils ? null : documentNumber,
      snils: bySnils ? documentNumber : null,
      sendSmsCode: $("caller-sms").checked,
    },
    state.staffToken,
  );
  try {
    await opened(data);
  } catch (error) {
    await loadCall(); // a refused identification is an action of the call too
    throw error;
  }
  form.reset();
}

// The people whose confirmed phone is the call's number (CallerCandidates, audited): offered, not identified —
// the caller names the birth date of the person chosen (OpenOnBehalfSession with their patientId).
async function findByPhone() {
  if (!state.call) throw new ApiError("NO_CALL", "Сначала примите звонок: действия записываются в звонок.");
  const data = await staff("CallerCandidates");
  const found = expect(data.callerCandidates, "CallerCandidates");
  await loadCall();
  $("by-phone-message").textContent = found.message;
  const people = $("by-phone-people");
  people.replaceChildren(
    el("legend", {}, "Кто звонит (или о ком)"),
    ...found.candidates.map((c, i) =>
      el("label", { class: "inline" },
        el("input", { type: "radio", name: "candidate", value: c.patientId, checked: i === 0 }),
        `${c.shortName}, ${c.birthYear} г. р.`)),
  );
  $("by-phone-form").hidden = !found.candidates.length;
  status(found.message);
  if (found.candidates.length) $("by-phone-birth").focus();
  else $("caller-document").focus();
}

async function identifyByPhone() {
  const form = $("by-phone-form");
  const chosen = form.querySelector("input[name=candidate]:checked");
  if (!chosen) throw new ApiError("INVALID_INPUT", "Выберите, кто звонит.");
  const birthDate = isoDate(form.birth.value);
  if (!birthDate) throw new ApiError("INVALID_INPUT", "Дата рождения: ДД.ММ.ГГГГ, например 15.03.1980.");
  const data = await staff("OpenOnBehalfSession", { birthDate, patientId: chosen.value, sendSmsCode: $("by-phone-sms").checked });
  try {
    await opened(data);
  } catch (error) {
    await loadCall(); // a refused identification is an action of the call too
    throw error;
  }
  form.reset();
}

async function opened(data) {
  const session = expect(data.openOnBehalfSession, "OnBehalfSession");
  state.caller = { token: session.accessToken, patient: session.patient, scopes: session.scopes };
  showCaller();
  status(`Звонящий найден: ${session.patient.shortName}.${session.smsCodeSent ? " Код отправлен ему в СМС." : ""}`);
  await Promise.all([loadAppointments(), loadCall(), loadHomeVisit(), mountServices()]);
}

function showCaller() {
  const { patient, scopes } = state.caller;
  $("identify-form").hidden = true;
  $("by-phone").hidden = true;
  $("caller-card").hidden = false;
  $("caller-name").textContent = patient.shortName;
  $("caller-born").textContent = `${new Date(patient.birthDate).toLocaleDateString("ru-RU")} г. р.`;
  $("caller-scopes").textContent = scopes.map((s) => SCOPE_LABELS[s] || s).join(", ");
  $("code-form").hidden = scopes.includes("sensitive");
}

function forgetCaller() {
  state.caller = null;
  state.rescheduling = null;
  $("identify-form").hidden = false;
  $("by-phone").hidden = !(state.call && state.call.callerPhone && api.has("CallerCandidates"));
  $("by-phone-form").hidden = true;
  $("by-phone-message").textContent = "";
  $("caller-card").hidden = true;
  $("home-visit").hidden = true;
  $("appointments").replaceChildren();
  $("slots").replaceChildren();
  $("services").replaceChildren();
  $("more").hidden = true;
}

async function confirmCode() {
  const code = $("sms-code").value.trim();
  const data = await forCaller("ConfirmOnBehalfCode", { code });
  const session = expect(data.confirmOnBehalfCode, "OnBehalfSession");
  state.caller = { token: session.accessToken, patient: session.patient, scopes: session.scopes };
  $("sms-code").value = "";
  showCaller();
  status("Личность подтверждена кодом из СМС: можно отменять и переносить записи.");
  await loadCall();
}

async function loadAppointments() {
  const data = await forCaller("MyAppointments", { upcoming: true });
  const list = $("appointments");
  list.replaceChildren(
    ...data.myAppointments.map((a) =>
      el("li", { dataset: { appointment: a.id } },
        el("span", {}, `${format.dateTime(a.start)} — ${a.specialtyName}, ${a.doctorName}; ${a.moName}`),
        el("span", {},
          el("button", { type: "button", class: "quiet", onclick: action(() => startReschedule(a)) }, "Перенести"),
          " ",
          el("button", { type: "button", onclick: action(() => cancel(a)) }, "Отменить"),
        ),
      ),
    ),
  );
  if (!data.myAppointments.length) list.append(el("li", {}, "Предстоящих записей нет."));
}

async function cancel(appointment) {
  const data = await forCaller("CancelAppointment", { appointmentId: appointment.id, idempotencyKey: key() });
  try {
    expect(data.cancelAppointment, "AppointmentCancelled");
  } catch (error) {
    if (error.code === "CONFIRMATION_REQUIRED") $("sms-code").focus();
    throw error;
  } finally {
    await loadCall();
  }
  await loadAppointments();
  status(`Запись на ${format.dateTime(appointment.start)} отменена.`);
}

function startReschedule(appointment) {
  state.rescheduling = appointment;
  const specialty = $("specialty");
  if ([...specialty.options].some((o) => o.value === appointment.specialtyCode)) specialty.value = appointment.specialtyCode;
  status(`Перенос записи на ${format.dateTime(appointment.start)}: найдите и выберите новое время.`);
  specialty.focus();
}

async function loadReference() {
  const data = await staff("Reference");
  const select = $("specialty");
  select.replaceChildren(
    el("option", { value: "" }, "— выберите —"),
    ...data.specialties.filter((s) => s.directBooking !== false).map((s) => el("option", { value: s.code }, s.name)),
  );
  $("search-from").value = todayIso();
}

async function search() {
  const specialtyCode = $("specialty").value;
  if (!specialtyCode) throw new ApiError("INVALID_INPUT", "Выберите специальность.");
  const dateFrom = $("search-from").value || null;
  const data = await forCaller("SearchSlots", { specialtyCode, dateFrom });
  const box = $("slots");
  const items = data.searchSlots.items.filter((i) => i.slots.length);
  box.replaceChildren(
    ...items.map((item) =>
      el("div", { class: "doctor" },
        el("p", {}, el("strong", {}, item.doctorName), `, ${item.specialtyName}`),
        el("p", {}, `${item.moName}${item.ownClinic ? " (своя поликлиника)" : ""}`),
        el("div", { class: "times" },
          item.slots.slice(0, 12).map((slot) =>
            el("button", {
              type: "button",
              class: "quiet",
              "aria-label": `${format.dateTime(slot.start)}, ${item.doctorName}`,
              onclick: action(() => book(slot, item)),
            }, `${format.date(slot.start)} ${format.time(slot.start)}`),
          ),
        ),
      ),
    ),
  );
  if (!items.length) box.append(el("p", {}, "Свободного времени не найдено. Попробуйте другую дату."));
  status(data.searchSlots.partial ? "Часть поликлиник не ответила: список неполный." : `Найдено врачей: ${items.length}.`);
}

async function book(slot, item) {
  if (state.rescheduling) {
    const from = state.rescheduling;
    const data = await forCaller("RescheduleAppointment", {
      appointmentId: from.id, slot: slot.id, idempotencyKey: key(),
    });
    try {
      expect(data.rescheduleAppointment, "AppointmentRescheduled");
    } finally {
      await loadCall();
    }
    state.rescheduling = null;
    await loadAppointments();
    status(`Запись перенесена на ${format.dateTime(slot.start)}, ${item.doctorName}.`);
  } else {
    const data = await forCaller("BookAppointment", { slot: slot.id, idempotencyKey: key() });
    try {
      expect(data.bookAppointment, "AppointmentBooked");
    } finally {
      await loadCall();
    }
    await loadAppointments();
    status(`Записан: ${format.dateTime(slot.start)}, ${item.doctorName}, ${item.moName}.`);
  }
  $("slots").replaceChildren();
}

// ------------------------------------------------------------------------------------------ home visit

async function loadHomeVisit() {
  const allowed = state.caller.scopes.includes("home_visits") && api.has("RequestHomeVisit");
  $("home-visit").hidden = !allowed;
  if (!allowed) return;
  const data = await forCaller("HomeVisitChecklist");
  const checklist = data.homeVisitChecklist;
  $("home-reason").replaceChildren(
    el("option", { value: "" }, "— выберите —"),
    ...checklist.reasons.map((r) => el("option", { value: r.code }, r.label)),
  );
  $("home-symptoms").replaceChildren(
    el("legend", {}, `Симптомы (отмеченные красным — повод звонить ${checklist.emergencyNumber})`),
    ...checklist.symptoms.map((s) =>
      el("label", { class: `inline${s.emergency ? " refused" : ""}` },
        el("input", { type: "checkbox", name: "symptom", value: s.code }), s.label),
    ),
  );
  $("home-window").replaceChildren();
}

function homeAddress() {
  const line = $("home-address").value.trim();
  return line ? { line } : null;
}

async function homeWindows() {
  const data = await forCaller("HomeVisitWindows", { address: homeAddress(), phone: $("home-phone").value.trim() || null });
  const found = expect(data.homeVisitWindows, "HomeVisitWindows");
  $("home-window").replaceChildren(
    ...found.windows.map((w) => el("option", { value: w.id }, `${format.date(w.start)} ${format.time(w.start)}–${format.time(w.end)}`)),
  );
  status(`${found.moName}: окон визита ${found.windows.length}.`);
}

async function requestHomeVisit() {
  const form = $("home-form");
  const input = {
    reason: form.reason.value,
    windowId: form.window.value,
    phone: form.phone.value.trim(),
    symptoms: [...form.querySelectorAll("input[name=symptom]:checked")].map((i) => i.value),
    address: homeAddress(),
  };
  const data = await forCaller("RequestHomeVisit", { input, idempotencyKey: key() });
  await loadCall();
  const result = data.requestHomeVisit;
  if (result.__typename === "HomeVisitEmergency") {
    throw new ApiError("HOME_VISIT_EMERGENCY", `Нужна скорая помощь: переведите звонок на ${result.emergencyNumber}.`);
  }
  const visit = expect(result, "HomeVisitRequested").visit;
  form.reset();
  status(`Врач вызван на дом: заявка № ${visit.number}, ${visit.statusLabel}.`);
}

// ------------------------------------------------------------------------------------------ other services

async function mountServices() {
  const box = $("services");
  box.replaceChildren();
  $("more").hidden = true;
  const scopes = state.caller.scopes;
  const context = { api, token: state.caller.token, scopes, status, fail, action, refreshCall: loadCall };
  // Each panel on its own: one that cannot load says so in Russian and the others still appear.
  await Promise.all(
    SERVICES.filter((s) => api.has(s.operation) && scopes.includes(s.scope)).map(async (service) => {
      const panel = el("section", { class: "service", dataset: { service: service.operation } });
      box.append(panel);
      try {
        const module = await import(service.module);
        await module.mount(panel, context);
      } catch (error) {
        panel.append(el("p", { class: "refused" }, error.message || String(error)));
      }
    }),
  );
  $("more").hidden = !box.children.length;
}

// ------------------------------------------------------------------------------------------ the shift

async function loadKpi() {
  const today = todayIso();
  const data = await staff("CallsKpi", { dateFrom: today, dateTo: today });
  const kpi = data.callsKpi;
  $("kpi-total").textContent = String(kpi.total);
  $("kpi-open").textContent = String(kpi.open);
  $("kpi-duration").textContent = kpi.averageDurationSeconds === null ? "—" : format.duration(kpi.averageDurationSeconds);
  $("kpi-hours").tBodies[0].replaceChildren(
    ...kpi.byHour.map((h) => el("tr", {}, el("td", {}, format.time(h.hour)), el("td", {}, String(h.count)))),
  );
  $("kpi-outcomes").tBodies[0].replaceChildren(
    ...kpi.byOutcome.filter((o) => o.count).map((o) =>
      el("tr", { dataset: { outcome: o.outcome } }, el("td", {}, o.label), el("td", {}, String(o.count)))),
  );
}

// ------------------------------------------------------------------------------------------ start

async function start() {
  await api.load();
  $("login-form").addEventListener("submit", action(login));
  $("logout").addEventListener("click", logout);
  $("open-call-form").addEventListener("submit", action(openCall));
  $("close-call-form").addEventListener("submit", action(closeCall));
  $("identify-form").addEventListener("submit", action(identify));
  $("code-form").addEventListener("submit", action(confirmCode));
  $("by-phone-find").addEventListener("click", action(findByPhone));
  $("by-phone-form").addEventListener("submit", action(identifyByPhone));
  $("caller-forget").addEventListener("click", () => { forgetCaller(); $("caller-document").focus(); });
  $("search-form").addEventListener("submit", action(search));
  $("home-windows").addEventListener("click", action(homeWindows));
  $("home-form").addEventListener("submit", action(requestHomeVisit));
  $("kpi-refresh").addEventListener("click", action(loadKpi));
  document.body.dataset.ready = "true";
  $("login-name").focus();
}

start().catch(fail);
