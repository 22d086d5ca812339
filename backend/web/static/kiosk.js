// The infomat kiosk: the device signs in with its key (private_key_jwt, RFC 7523, signed here by WebCrypto with
// a key that cannot be read back), a patient identifies with policy + birth date (scanner, on-screen keypad or
// keyboard), sees today's appointments and prints the ticket, books a visit; after a while without a touch the
// session is dropped and the start screen comes back. Only graphql/kiosk/ documents.
import { Api, ApiError, el, expect, format, isoDate, key, todayIso } from "./api.js";

const api = new Api("kiosk");
const $ = (id) => document.getElementById(id);
const DEFAULT_IDLE_S = 120;
const START_IDLE_S = 60; // a half-typed policy on the start screen is wiped too

// What other domains bring to the kiosk: a button appears when the kiosk's documents include its operation and
// the session has its scope; its module (./kiosk/) exports open(context) and prints through context.printPdf.
const EXTRAS = [
  {
    operation: "PrintVaccinationCertificate", scope: "vaccination.certificate",
    module: "./kiosk/vaccination.js", label: "Напечатать сертификат о прививках",
  },
  { operation: "MyInsurancePolicy", scope: "insurance_policy", module: "./kiosk/policy.js", label: "Напечатать полис ОМС" },
];

const state = { printUrl: null, device: null, deviceToken: null, deviceTokenUntil: 0, session: null, idle: null, slot: null, booked: null };

// ------------------------------------------------------------------------------------------ screens, messages

function show(name) {
  for (const screen of document.querySelectorAll(".screen")) screen.hidden = screen.id !== `screen-${name}`;
  const target = $(`screen-${name}`).querySelector("input, button");
  if (target) target.focus();
  armIdle();
}

function status(text) {
  $("alert").hidden = true;
  $("status").textContent = text;
}

function fail(error) {
  const alert = $("alert");
  alert.textContent = error && error.message ? error.message : String(error);
  alert.dataset.code = (error && error.code) || "ERROR";
  alert.hidden = false;
  $("status").textContent = "";
}

function action(fn) {
  return async (event) => {
    if (event) event.preventDefault();
    try {
      await fn(event);
    } catch (error) {
      fail(error);
    }
  };
}

// ------------------------------------------------------------------------------------------ idle reset

function armIdle() {
  clearTimeout(state.idle);
  const seconds = state.session ? state.session.idleTimeoutSeconds || DEFAULT_IDLE_S : START_IDLE_S;
  state.idle = setTimeout(() => reset("Сеанс завершён: долго не было действий. Ваши данные скрыты."), seconds * 1000);
}

// Each printout gets a fresh frame: a frame whose PDF may still be printing is neither reloaded nor removed
// at once (Chromium's PDF viewer does not survive that), only a minute later with its blob URL.
function clearPrinter() {
  const old = $("printer");
  old.onload = null;
  old.removeAttribute("id");
  old.after(el("iframe", { id: "printer", title: "Печать документа", hidden: true }));
  const url = state.printUrl;
  state.printUrl = null;
  setTimeout(() => {
    old.remove();
    if (url) URL.revokeObjectURL(url);
  }, 60_000);
}

function reset(message) {
  clearPrinter();
  state.session = null;
  state.slot = null;
  state.booked = null;
  $("identify-form").reset();
  for (const id of ["today", "book-choices"]) $(id).replaceChildren();
  $("greeting").textContent = "";
  document.body.dataset.screen = "start";
  show("start");
  if (message) status(message);
}

// ------------------------------------------------------------------------------------------ the device's key

function openStore() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open("moe-zdorovye-kiosk", 1);
    request.onupgradeneeded = () => request.result.createObjectStore("device");
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function stored(name, value) {
  const db = await openStore();
  return new Promise((resolve, reject) => {
    const tx = db.transaction("device", value === undefined ? "readonly" : "readwrite");
    const store = tx.objectStore("device");
    const request = value === undefined ? store.get(name) : store.put(value, name);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function base64url(bytes) {
  let text = "";
  for (const b of new Uint8Array(bytes)) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const utf8 = (text) => new TextEncoder().encode(text);

async function setup() {
  const form = $("setup-form");
  const pem = form.key.value.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  let der;
  try {
    der = Uint8Array.from(atob(pem), (c) => c.charCodeAt(0));
  } catch {
    throw new ApiError("INVALID_INPUT", "Ключ не читается: нужен PEM (BEGIN PRIVATE KEY).");
  }
  let privateKey;
  try {
    privateKey = await crypto.subtle.importKey("pkcs8", der, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
  } catch {
    throw new ApiError("INVALID_INPUT", "Ключ не подходит: нужен закрытый ключ EC P-256 в формате PKCS#8.");
  }
  const device = { clientId: form.client.value.trim(), key: privateKey };
  if (!device.clientId) throw new ApiError("INVALID_INPUT", "Укажите идентификатор инфомата.");
  await stored("device", device);
  form.reset();
  state.device = device;
  reset("Инфомат настроен.");
}

// The device's own token (client_credentials with a signed client assertion), kept until shortly before expiry.
async function deviceToken() {
  if (state.deviceToken && Date.now() < state.deviceTokenUntil) return state.deviceToken;
  const now = Math.floor(Date.now() / 1000);
  const header = base64url(utf8(JSON.stringify({ alg: "ES256", typ: "JWT" })));
  const claims = base64url(utf8(JSON.stringify({
    iss: state.device.clientId, sub: state.device.clientId, aud: api.tokenEndpoint,
    iat: now, exp: now + 120, jti: key(),
  })));
  const signature = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, state.device.key, utf8(`${header}.${claims}`));
  let response;
  try {
    response = await fetch("/api/v1/oauth/token", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "client_credentials",
        client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        client_assertion: `${header}.${claims}.${base64url(signature)}`,
      }),
    });
  } catch {
    throw new ApiError("UNAVAILABLE", "Сервер не отвечает. Обратитесь в регистратуру.");
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok || !body.access_token) {
    throw new ApiError("KIOSK_NOT_SIGNED_IN", "Инфомат не смог войти в систему. Обратитесь в регистратуру.");
  }
  state.deviceToken = body.access_token;
  state.deviceTokenUntil = Date.now() + Math.max(30, (body.expires_in || 300) - 60) * 1000;
  return state.deviceToken;
}

// ------------------------------------------------------------------------------------------ identification

let activeField = null;

function buildKeypad() {
  const pad = $("keypad");
  const press = (value) => (event) => {
    event.preventDefault();
    const field = activeField || $("policy");
    if (value === "back") field.value = field.value.slice(0, -1);
    else if (value === "clear") field.value = "";
    else field.value += value;
    if (field.id === "birth") field.value = maskDate(field.value);
    field.focus();
    armIdle();
  };
  const keys = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "clear", "0", "back"];
  const labels = { clear: "Очистить", back: "⌫ Стереть" };
  const names = { clear: "Очистить поле", back: "Стереть последнюю цифру" };
  for (const k of keys) {
    const button = el("button", {
      type: "button", class: labels[k] ? "wide" : null, "aria-label": names[k] || k, dataset: { key: k },
    }, labels[k] || k);
    button.addEventListener("mousedown", (event) => event.preventDefault()); // keep the field's focus
    button.addEventListener("click", press(k));
    pad.append(button);
  }
  for (const id of ["policy", "birth"]) $(id).addEventListener("focus", () => { activeField = $(id); });
  $("birth").addEventListener("input", () => { $("birth").value = maskDate($("birth").value); });
  // A scanner types the policy and Enter: go on to the birth date.
  $("policy").addEventListener("keydown", (event) => {
    if (event.key === "Enter") { event.preventDefault(); $("birth").focus(); }
  });
}

function maskDate(text) {
  const d = text.replace(/\D/g, "").slice(0, 8);
  return [d.slice(0, 2), d.slice(2, 4), d.slice(4)].filter(Boolean).join(".");
}

async function identify() {
  const form = $("identify-form");
  const omsPolicy = form.policy.value.replace(/\D/g, "");
  const birthDate = isoDate(form.birth.value);
  if (omsPolicy.length !== 16) throw new ApiError("INVALID_INPUT", "Номер полиса ОМС — 16 цифр.");
  if (!birthDate) throw new ApiError("INVALID_INPUT", "Дата рождения: ДД.ММ.ГГГГ, например 15.03.1980.");
  status("Проверяем…");
  const data = await api.run("IdentifyAtKiosk", { omsPolicy, birthDate }, await deviceToken());
  let session;
  try {
    session = expect(data.identifyAtKiosk, "KioskSession");
  } catch (error) {
    form.birth.value = "";
    $("birth").focus();
    throw error;
  }
  state.session = session;
  form.reset();
  $("greeting").textContent = `Здравствуйте, ${session.patient.shortName}`;
  document.body.dataset.screen = "home";
  show("home");
  status("Выберите действие.");
  await mountExtras();
}

const asPatient = (operation, variables) => api.run(operation, variables, state.session && state.session.accessToken);

// ------------------------------------------------------------------------------------------ today, tickets

async function today() {
  const data = await asPatient("MyAppointments", { upcoming: true });
  const day = todayIso();
  const list = $("today");
  const todays = data.myAppointments.filter((a) => a.start.slice(0, 10) === day || new Date(a.start).toDateString() === new Date().toDateString());
  list.replaceChildren(
    ...todays.map((a) =>
      el("li", {},
        el("p", { class: "lead" }, el("strong", {}, format.time(a.start)), ` — ${a.specialtyName}`),
        el("p", {}, `${a.doctorName}${a.room ? `, кабинет ${a.room}` : ""}`),
        el("button", { type: "button", class: "big primary", onclick: action(() => printTicket(a)) }, "Напечатать талон"),
      ),
    ),
  );
  if (!todays.length) list.append(el("li", {}, "На сегодня записей нет. Можно записаться к врачу."));
  show("today");
}

async function printTicket(appointment) {
  await printPdf(appointment.ticketUrl, {
    printing: "Печатаем талон…",
    unavailable: "Талон сейчас не напечатать. Обратитесь в регистратуру.",
    printed: `Талон напечатан: ${format.time(appointment.start)}, ${appointment.doctorName}. Возьмите его из лотка.`,
    mark: appointment.id,
  });
}

// Fetches a PDF of the session's patient (the REST endpoints take the same token) and sends it to the printer.
async function printPdf(url, { printing, unavailable, printed, mark }) {
  status(printing);
  let response;
  try {
    response = await fetch(url, { headers: { authorization: `Bearer ${state.session.accessToken}` } });
  } catch {
    throw new ApiError("UNAVAILABLE", "Принтер недоступен. Обратитесь в регистратуру.");
  }
  if (!response.ok || !(response.headers.get("content-type") || "").startsWith("application/pdf")) {
    const body = await response.json().catch(() => ({}));
    throw new ApiError(body.code || "PRINT_UNAVAILABLE", body.message || unavailable);
  }
  const pdf = await response.blob();
  // A kiosk's browser prints silently (Chromium --kiosk-printing): the PDF goes to the printer.
  clearPrinter();
  const frame = $("printer");
  state.printUrl = URL.createObjectURL(pdf);
  frame.onload = () => {
    try {
      frame.contentWindow.print();
    } catch {
      /* a browser without a PDF viewer: the document is still produced */
    }
  };
  frame.src = state.printUrl;
  document.body.dataset.printed = mark;
  status(printed);
}

// ------------------------------------------------------------------------------------------ booking

async function bookStart() {
  const data = await asPatient("Reference");
  $("book-step").textContent = "Выберите специальность.";
  $("book-choices").replaceChildren(
    ...data.specialties.filter((s) => s.directBooking !== false).map((s) =>
      el("button", { type: "button", onclick: action(() => bookSearch(s)) }, s.name)),
  );
  show("book");
}

async function bookSearch(specialty) {
  status("Ищем свободное время…");
  const data = await asPatient("SearchSlots", { specialtyCode: specialty.code, dateFrom: todayIso() });
  const items = data.searchSlots.items.filter((i) => i.slots.length).slice(0, 4);
  $("book-step").textContent = `${specialty.name}: выберите врача и время.`;
  $("book-choices").replaceChildren(
    ...items.map((item) =>
      el("div", { class: "doctor" },
        el("p", {}, el("strong", {}, item.doctorName)),
        el("p", {}, item.moName),
        el("div", { class: "times" },
          item.slots.slice(0, 6).map((slot) =>
            el("button", {
              type: "button",
              "aria-label": `${format.dateTime(slot.start)}, ${item.doctorName}`,
              onclick: () => confirmSlot(slot, item),
            }, `${format.date(slot.start)}, ${format.time(slot.start)}`)),
        ),
      ),
    ),
  );
  if (!items.length) $("book-choices").append(el("p", {}, "Свободного времени нет. Обратитесь в регистратуру."));
  status("");
  $("book-choices").querySelector("button")?.focus();
}

function confirmSlot(slot, item) {
  state.slot = { slot, item };
  $("confirm-text").textContent = `${item.doctorName}, ${item.specialtyName}: ${format.dateTime(slot.start)}. ${item.moName}.`;
  show("confirm");
}

async function book() {
  const { slot, item } = state.slot;
  const data = await asPatient("BookAppointment", { slot: slot.id, idempotencyKey: key() });
  const appointment = expect(data.bookAppointment, "AppointmentBooked").appointment;
  state.booked = appointment;
  $("booked-text").textContent = `${format.dateTime(appointment.start)}, ${item.doctorName}${appointment.room ? `, кабинет ${appointment.room}` : ""}. ${appointment.address || appointment.moName}.`;
  show("booked");
  status("Запись создана.");
}

// ------------------------------------------------------------------------------------------ extras

async function mountExtras() {
  const box = $("extras");
  box.replaceChildren();
  const scopes = state.session.scopes || [];
  for (const extra of EXTRAS.filter((e) => api.has(e.operation) && scopes.includes(e.scope))) {
    const module = await import(extra.module);
    box.append(el("button", {
      type: "button", class: "big primary", dataset: { extra: extra.operation },
      onclick: action(() => module.open({ api, session: state.session, status, printPdf })),
    }, extra.label));
  }
}

// ------------------------------------------------------------------------------------------ start

async function start() {
  await api.load();
  buildKeypad();
  for (const type of ["pointerdown", "keydown", "touchstart"]) document.addEventListener(type, armIdle, { passive: true });
  $("setup-form").addEventListener("submit", action(setup));
  $("identify-form").addEventListener("submit", action(identify));
  $("go-today").addEventListener("click", action(today));
  $("go-book").addEventListener("click", action(bookStart));
  $("finish").addEventListener("click", () => reset("До свидания! Ваши данные скрыты."));
  $("confirm-yes").addEventListener("click", action(book));
  $("booked-print").addEventListener("click", action(() => printTicket(state.booked)));
  for (const b of document.querySelectorAll("button.back")) b.addEventListener("click", () => show("home"));
  for (const b of document.querySelectorAll("button.home")) b.addEventListener("click", () => show("home"));
  state.device = await stored("device").catch(() => null);
  document.body.dataset.ready = "true";
  if (!state.device) {
    document.body.dataset.screen = "setup";
    show("setup");
    clearTimeout(state.idle);
    return;
  }
  reset();
}

start().catch(fail);
