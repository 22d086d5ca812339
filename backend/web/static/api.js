// The pages' one way to the server: the client's registered GraphQL documents, sent by hash (no query text),
// with the token of whoever acts (Authorization: Bearer), like any other client of the API.

export class ApiError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

const UNREACHABLE = "Сервер не отвечает. Проверьте подключение и повторите.";

export class Api {
  constructor(client) {
    this.client = client;
    this.documents = {};
    this.tokenEndpoint = "";
  }

  async load() {
    const response = await fetch(`/web/${this.client}/manifest.json`);
    if (!response.ok) throw new ApiError("UNAVAILABLE", UNREACHABLE);
    const manifest = await response.json();
    this.documents = manifest.documents;
    this.tokenEndpoint = manifest.tokenEndpoint;
    return this;
  }

  has(operation) {
    return Object.hasOwn(this.documents, operation);
  }

  // Runs the registered operation; answers its `data`. A transport or GraphQL error throws ApiError.
  async run(operation, variables = {}, token = null) {
    const hash = this.documents[operation];
    if (!hash) throw new ApiError("OPERATION_NOT_TRUSTED", `Операция ${operation} не зарегистрирована для клиента.`);
    const headers = { "content-type": "application/json" };
    if (token) headers.authorization = `Bearer ${token}`;
    let response;
    try {
      response = await fetch("/graphql", {
        method: "POST",
        headers,
        body: JSON.stringify({
          operationName: operation,
          variables,
          extensions: { persistedQuery: { version: 1, sha256Hash: hash } },
        }),
      });
    } catch {
      throw new ApiError("UNAVAILABLE", UNREACHABLE);
    }
    let body = null;
    try {
      body = await response.json();
    } catch {
      throw new ApiError("UNAVAILABLE", UNREACHABLE);
    }
    if (body && body.errors && body.errors.length) {
      const first = body.errors[0];
      throw new ApiError((first.extensions && first.extensions.code) || "ERROR", first.message);
    }
    if (!response.ok || !body || !body.data) {
      throw new ApiError((body && body.code) || "ERROR", (body && body.message) || UNREACHABLE);
    }
    return body.data;
  }
}

// A union answer: the success member, or a Problem thrown as ApiError (InvalidInput names its fields).
export function expect(result, ...successes) {
  if (result && successes.includes(result.__typename)) return result;
  if (result && result.fields && result.fields.length) {
    throw new ApiError(result.code, result.fields.map((f) => f.message).join(" "));
  }
  throw new ApiError((result && result.code) || "ERROR", (result && result.message) || "Не удалось выполнить.");
}

export function key() {
  return crypto.randomUUID();
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const TIME = new Intl.DateTimeFormat("ru-RU", { hour: "2-digit", minute: "2-digit" });
const DATE = new Intl.DateTimeFormat("ru-RU", { day: "numeric", month: "long", weekday: "short" });
const DATE_TIME = new Intl.DateTimeFormat("ru-RU", {
  day: "numeric", month: "long", hour: "2-digit", minute: "2-digit",
});

export const format = {
  time: (iso) => TIME.format(new Date(iso)),
  date: (iso) => DATE.format(new Date(iso)),
  dateTime: (iso) => DATE_TIME.format(new Date(iso)),
  duration(seconds) {
    const s = Math.max(0, Math.round(seconds));
    return `${Math.floor(s / 60)} мин ${String(s % 60).padStart(2, "0")} с`;
  },
};

// "15.03.1980" or "15031980" → "1980-03-15"; null when not a real date.
export function isoDate(text) {
  const digits = String(text).replace(/\D/g, "");
  if (digits.length !== 8) return null;
  const [d, m, y] = [digits.slice(0, 2), digits.slice(2, 4), digits.slice(4)];
  const date = new Date(`${y}-${m}-${d}T00:00:00Z`);
  if (Number.isNaN(date.getTime()) || date.getUTCDate() !== Number(d) || date.getUTCMonth() + 1 !== Number(m)) {
    return null;
  }
  return `${y}-${m}-${d}`;
}

export function todayIso() {
  const now = new Date();
  const local = new Date(now.getTime() - now.getTimezoneOffset() * 60000);
  return local.toISOString().slice(0, 10);
}
