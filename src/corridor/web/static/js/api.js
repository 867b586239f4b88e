// The API client of the dashboard: the key in sessionStorage, sent as a Bearer token.
//
// Every refusal of the API is application/problem+json with a stable `code`; `api()` throws
// an `ApiProblem` carrying it, so that views can say what went wrong in the API's words.

const KEY_ITEM = "corridor.apiKey";
const TIMEOUT_MS = 30000;

export class ApiProblem extends Error {
  constructor(status, code, detail) {
    super(detail || code);
    this.status = status;
    this.code = code;
  }
}

export function storedKey() {
  return sessionStorage.getItem(KEY_ITEM);
}

export function storeKey(key) {
  sessionStorage.setItem(KEY_ITEM, key);
}

export function forgetKey() {
  sessionStorage.removeItem(KEY_ITEM);
}

function headers(extra) {
  const out = { Accept: "application/json", ...extra };
  const key = storedKey();
  if (key) out.Authorization = `Bearer ${key}`;
  return out;
}

async function send(path, { method = "GET", body, accept } = {}) {
  const init = { method, headers: headers(accept ? { Accept: accept } : {}) };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (method === "POST") {
    // A retry of the same click is never applied twice (the API replays the answer).
    init.headers["Idempotency-Key"] = crypto.randomUUID();
  }
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  init.signal = controller.signal;
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiProblem(0, "network_error", `the server did not answer: ${error.message}`);
  } finally {
    clearTimeout(timer);
  }
  if (!response.ok) {
    let code = `http_${response.status}`;
    let detail = response.statusText;
    try {
      const problem = await response.json();
      code = problem.code || code;
      detail = problem.detail || detail;
    } catch (_) {
      // not a problem document: keep the status
    }
    if (response.status === 401) window.dispatchEvent(new CustomEvent("corridor:unauthenticated"));
    throw new ApiProblem(response.status, code, detail);
  }
  return response;
}

/** GET (or POST with `body`) a JSON endpoint; resolves to the parsed body. */
export async function api(path, options = {}) {
  const response = await send(path, options);
  return response.json();
}

/** POST to an API endpoint (with an Idempotency-Key). */
export function post(path, body) {
  return api(path, { method: "POST", body: body === undefined ? {} : body });
}

/** GET a non-JSON body (CSV) as a Blob. */
export async function blob(path, accept) {
  const response = await send(path, { accept });
  return response.blob();
}

/** A query string of the set values of `params`. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}
