// The console's one door to the API: same-origin fetch with the headers the server's checks
// expect (JSON bodies with their content type; the browser adds Origin and Sec-Fetch-Site),
// the tab's API token, and the API's short JSON errors as exceptions.
//
// The API token lives in sessionStorage: this tab only, gone when it closes, never in a URL
// (it travels in the Authorization header) and never written to the browser's console.

const TOKEN_KEY = "roboscope.console.token";
const TIMEOUT_MS = 15000;

export const API_ROOT = new URL("../api/v1/", document.baseURI);

/** Fires "unauthorized" when the API answers 401 (no token, or a refused one). */
export const authEvents = new EventTarget();

export function storedToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function storeToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** The API refused: `status`, its `code` (`version_conflict`, …) and its `body`. */
export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `the server answered ${status}`);
    this.status = status;
    this.code = (body && body.error) || `http_${status}`;
    this.body = body || {};
  }
}

/** No answer at all: the server is down or the network is. */
export class Unreachable extends Error {
  constructor() {
    super("the server does not answer");
  }
}

// The server's clock, as bounds on its offset from ours learnt from each answer's Date
// header (whole seconds): lock countdowns and presence ages are computed against it, so a
// tablet whose clock is off still shows true durations.
let offsetLow = -Infinity;
let offsetHigh = Infinity;

function noteServerClock(response, sentAt, receivedAt) {
  const date = Date.parse(response.headers.get("Date") || "");
  if (Number.isNaN(date)) return;
  const low = date - receivedAt;
  const high = date + 1000 - sentAt;
  if (low > offsetHigh || high < offsetLow) {
    offsetLow = low; // our clock jumped: start over
    offsetHigh = high;
  } else {
    offsetLow = Math.max(offsetLow, low);
    offsetHigh = Math.min(offsetHigh, high);
  }
}

/** Now, on the server's clock (milliseconds since the epoch). */
export function serverNow() {
  if (!Number.isFinite(offsetLow) || !Number.isFinite(offsetHigh)) return Date.now();
  return Date.now() + (offsetLow + offsetHigh) / 2;
}

export function apiUrl(path, query = {}) {
  const url = new URL(path.replace(/^\//, ""), API_ROOT);
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") {
      url.searchParams.set(name, String(value));
    }
  }
  return url;
}

/** One API call: `{data, headers, status}`, or an ApiError / Unreachable. */
export async function request(method, path, { query, body, headers = {} } = {}) {
  const sent = { Accept: "application/json", ...headers };
  const token = storedToken();
  if (token) sent.Authorization = `Bearer ${token}`;
  const init = { method, headers: sent, cache: "no-store", credentials: "omit" };
  if (body !== undefined) {
    sent["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  init.signal = AbortSignal.timeout(TIMEOUT_MS);
  const sentAt = Date.now();
  let response;
  let text;
  try {
    response = await fetch(apiUrl(path, query), init);
    text = await response.text();
  } catch {
    throw new Unreachable();
  }
  noteServerClock(response, sentAt, Date.now());
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const error = new ApiError(response.status, data);
    if (response.status === 401) {
      authEvents.dispatchEvent(new CustomEvent("unauthorized", { detail: error }));
    }
    throw error;
  }
  return { data, headers: response.headers, status: response.status };
}

export const api = {
  get: async (path, query) => (await request("GET", path, { query })).data,
  post: async (path, body, headers) => (await request("POST", path, { body, headers })).data,
  patch: async (path, body) => (await request("PATCH", path, { body })).data,
  delete: async (path) => (await request("DELETE", path)).data,
};

/** A fresh Idempotency-Key for a create (works on plain-http origins, unlike randomUUID). */
export function idempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
