// The tracking API as the dashboard calls it: relative URLs (the page is served by the API itself, so
// "campaigns" from ".../dashboard" is ".../campaigns" under any stage path or domain), the key as a Bearer header.
// The key lives in sessionStorage only: never in a cookie, never in a URL.

const KEY_NAME = "sesame.apiKey";

export function getKey() {
  try {
    return sessionStorage.getItem(KEY_NAME) || "";
  } catch {
    return "";
  }
}

export function setKey(key) {
  sessionStorage.setItem(KEY_NAME, key);
}

export function clearKey() {
  try {
    sessionStorage.removeItem(KEY_NAME);
  } catch {
    // storage disabled: nothing was stored
  }
}

/** An answer other than 2xx, or no answer at all (status 0). */
export class ApiError extends Error {
  constructor(status, code, message, path) {
    super(message || `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.code = code || "";
    this.path = path;
  }

  /** The route does not exist on this deployment. API Gateway (and chalice local) answer an unknown path with a
   * 403 of their own, not 404: {"message": "Missing Authentication Token"}, or, when the request carries an
   * Authorization header that is not an AWS signature, {"message": "Authorization header requires 'Credential'
   * parameter..."}. The app's own 403 (a refused key) always has a "Code"; the gateway's never does. */
  get notRouted() {
    if (this.status === 404 && this.code !== "NotFoundError") return true;
    if (this.status === 405) return true;
    return this.status === 403 && !this.code;
  }

  /** No key, or the key was refused (the app's own 401/403, not a gateway 403 for an unknown path). */
  get unauthorized() {
    return this.status === 401 || (this.status === 403 && !this.notRouted);
  }

  get expired() {
    return this.status === 410;
  }

  get transient() {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

// Requests made since the current view was opened: shown under each view ("API calls behind this view").
const calls = [];
const listeners = new Set();

export function resetCalls() {
  calls.length = 0;
  listeners.forEach((fn) => fn(calls));
}

export function onCalls(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function remember(method, path, status) {
  const line = `${method} ${path}`;
  const seen = calls.find((c) => c.line === line);
  if (seen) seen.status = status;
  else calls.push({ line, status });
  listeners.forEach((fn) => fn(calls));
}

/**
 * Call the API. `fresh` skips the browser cache (GET answers carry `private, max-age=20`): used by the 30 s refresh
 * and after a change, so the page never shows what it has just changed as it was before.
 */
export async function request(method, path, { body, fresh = false } = {}) {
  const headers = { Accept: "application/json", Authorization: `Bearer ${getKey()}` };
  const init = {
    method,
    headers,
    cache: fresh || method !== "GET" ? "no-cache" : "default",
    credentials: "omit",
    redirect: "error",
    referrerPolicy: "no-referrer",
  };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    remember(method, path, 0);
    throw new ApiError(0, "NetworkError", "The API could not be reached (network error or the server is down).", path);
  }
  remember(method, path, response.status);
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    let message = String((data && (data.Message || data.message)) || response.statusText);
    const key = getKey();
    if (key) message = message.split(key).join("<key>"); // API Gateway's 403 for an unknown route echoes the header
    if (message.length > 300) message = `${message.slice(0, 300)}…`;
    throw new ApiError(response.status, data && data.Code, message, path);
  }
  return data;
}

export const get = (path, opts) => request("GET", path, opts);

/** Path segment: ids and addresses may hold any character ("+", "@", "/"). */
export const seg = (value) => encodeURIComponent(value);

/** Query string from an object, leaving out empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") q.set(name, value);
  }
  const text = q.toString();
  return text ? `?${text}` : "";
}

// Routes that only some deployments have, found in the public OpenAPI document (loaded once per page).
let documentPromise = null;

export function capabilities() {
  if (!documentPromise) {
    documentPromise = fetch("openapi.json", { credentials: "omit", referrerPolicy: "no-referrer" })
      .then((r) => (r.ok ? r.json() : { paths: {} }))
      .catch(() => ({ paths: {} }));
  }
  return documentPromise.then((doc) => ({
    has(method, path) {
      const ops = (doc.paths || {})[path];
      return Boolean(ops && ops[method.toLowerCase()]);
    },
  }));
}
