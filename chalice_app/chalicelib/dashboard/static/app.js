// The dashboard's entry point: sign-in, the hash router, the 30 s refresh and the error states.
//
// Every view module exports `mount(region, params, ctx)` returning `{ title, load({fresh}) }`: `mount` builds the
// view's fixed parts (headings, forms) once, `load` fetches and (re)draws its data, and is called again by the
// refresh timer. Adding a view is one module and one line in ROUTES.

import { ApiError, clearKey, getKey, onCalls, resetCalls, setKey } from "./api.js";
import { clockTime, dialogOpen, h, notice } from "./dom.js";
import * as campaign from "./view-campaign.js";
import * as campaigns from "./view-campaigns.js";
import * as message from "./view-message.js";
import * as recipients from "./view-recipients.js";
import * as reputation from "./view-reputation.js";
import * as suppressions from "./view-suppressions.js";

export const REFRESH_MS = 30_000;

const ROUTES = [
  [/^#\/campaigns\/(.+)$/, campaign, "campaigns"],
  [/^#\/campaigns$/, campaigns, "campaigns"],
  [/^#\/messages\/(.+)$/, message, "campaigns"],
  [/^#\/recipients$/, recipients, "recipients"],
  [/^#\/suppressions$/, suppressions, "suppressions"],
  [/^#\/reputation$/, reputation, "reputation"],
];

// `/dashboard#key=<key>` signs in (scripted use) and the fragment leaves the address bar at once.
function takeKeyFromFragment() {
  const fragment = location.hash.slice(1);
  if (!/(^|&)key=/.test(fragment)) return;
  const key = new URLSearchParams(fragment).get("key") || "";
  history.replaceState(null, "", `${location.pathname}${location.search}#/campaigns`);
  if (key) setKey(key);
}
takeKeyFromFragment();

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const banner = document.getElementById("banner");
const status = document.getElementById("status");
const signOut = document.getElementById("sign-out");

let current = null; // { view, load, hash }
let focusHeading = false;
let lastLoaded = 0;
let signInProblem = null;

function showBanner(content) {
  if (!content) {
    banner.hidden = true;
    banner.replaceChildren();
    return;
  }
  banner.replaceChildren(content);
  banner.hidden = false;
}

function describe(error) {
  if (error.status === 0) return ["The API cannot be reached.", "Check your connection."];
  if (error.status === 429 || error.status === 503) return [`The API is busy (${error.status}).`, error.message];
  return [`The API failed (${error.status}${error.code ? ` ${error.code}` : ""}).`, error.message];
}

function problemBanner(error) {
  const [title, text] = describe(error);
  const retry = h("button", { type: "button" }, "Retry now");
  retry.addEventListener("click", () => refresh({ fresh: true }));
  return notice("error", title, h("p", null, text), h("p", null, "The page retries every 30 seconds."), retry);
}

function renderSignIn() {
  current = null;
  generation += 1;
  nav.hidden = true;
  signOut.hidden = true;
  showBanner(null);
  const input = h("input", { type: "password", autocomplete: "off", spellcheck: "false", required: true, id: "api-key" });
  const form = h(
    "form",
    { class: "sign-in", novalidate: true },
    h("div", { class: "field" }, h("label", { for: "api-key" }, "API key"), input),
    h("p", { class: "hint" }, "Kept in this browser tab only (sessionStorage) and sent to this deployment's API as a Bearer token."),
    h("button", { type: "submit", class: "primary" }, "Sign in"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (!key) {
      input.focus();
      return;
    }
    setKey(key);
    signInProblem = null;
    focusHeading = true; // the form is gone: take the reader to the view they signed in to
    route();
  });
  const problem = signInProblem
    ? notice(
        "error",
        signInProblem.status === 401 ? "Sign-in needed (401)" : "This API key was refused (403)",
        h("p", null, signInProblem.status === 401 ? "The API asked for a key." : "The API does not accept this key: check it, or ask for a new one (sesame api-key)."),
      )
    : null;
  main.replaceChildren(h("h1", { tabindex: "-1" }, "Sign in"), problem, form);
  document.title = "Sign in · sesame";
  status.textContent = "";
  input.focus();
}

function handleError(error) {
  if (!(error instanceof ApiError)) {
    showBanner(notice("error", "The dashboard failed.", h("p", null, String(error && error.message ? error.message : error))));
    console.error(error);
    return;
  }
  if (error.unauthorized) {
    clearKey();
    signInProblem = error;
    renderSignIn();
    return;
  }
  showBanner(problemBanner(error));
}

// One load at a time per view; a refresh asked for meanwhile runs right after. `generation` changes with the view,
// so an answer that arrives after the user moved on is dropped.
let generation = 0;
let busy = null;
let pending = null;

async function refresh({ fresh }) {
  if (!current) return;
  if (busy === generation) {
    pending = { fresh: fresh || Boolean(pending && pending.fresh) };
    return;
  }
  const gen = generation;
  const mine = current;
  busy = gen;
  try {
    await mine.load({ fresh });
    if (gen !== generation) return;
    lastLoaded = Date.now();
    showBanner(null);
    status.textContent = `Updated ${clockTime(new Date(lastLoaded))} · refreshes every 30 s`;
  } catch (error) {
    if (gen === generation) handleError(error);
  } finally {
    if (busy === gen) busy = null;
    if (gen === generation && pending && current === mine) {
      const next = pending;
      pending = null;
      refresh(next);
    }
  }
}

function route() {
  if (!getKey()) {
    renderSignIn();
    return;
  }
  let hash = location.hash;
  if (!ROUTES.some(([pattern]) => pattern.test(hash))) {
    hash = "#/campaigns";
    history.replaceState(null, "", `${location.pathname}${location.search}${hash}`);
  }
  const [pattern, view, section] = ROUTES.find(([p]) => p.test(hash));
  const params = hash.match(pattern).slice(1).map(decodeURIComponent);
  nav.hidden = false;
  signOut.hidden = false;
  for (const link of nav.querySelectorAll("a")) {
    if (link.dataset.nav === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  showBanner(null);
  resetCalls();
  const region = h("div", { class: "view" });
  const calls = h("ul", { class: "calls" });
  const callsBox = h(
    "details",
    { class: "api-calls" },
    h("summary", null, "API calls behind this view"),
    h("p", { class: "hint" }, "Each is sent with Authorization: Bearer <your key>; see the OpenAPI document."),
    calls,
  );
  main.replaceChildren(region, callsBox);
  const ctx = { refresh: () => refresh({ fresh: true }), reload: () => refresh({ fresh: false }), fail: handleError };
  const instance = view.mount(region, params, ctx);
  document.title = `${instance.title} · sesame`;
  const heading = region.querySelector("h1");
  if (heading) {
    heading.tabIndex = -1;
    if (current || focusHeading) heading.focus(); // moved here by the user: say where they are (not on first load)
  }
  focusHeading = false;
  current = { view, load: instance.load, hash };
  generation += 1;
  pending = null;
  refresh({ fresh: false });
  stopCalls?.();
  stopCalls = onCalls((list) => calls.replaceChildren(...list.map((c) => h("li", null, h("code", null, c.line), ` → ${c.status || "no answer"}`))));
}
let stopCalls = null;

signOut.addEventListener("click", () => {
  clearKey();
  signInProblem = null;
  history.replaceState(null, "", `${location.pathname}${location.search}`);
  renderSignIn();
});

window.addEventListener("hashchange", () => {
  if (/(^|&)key=/.test(location.hash.slice(1))) takeKeyFromFragment();
  route();
});

// Refresh every 30 s while the tab is visible and nobody is in a confirmation dialog; at once when the tab comes back
// after a longer absence.
setInterval(() => {
  if (!document.hidden && !dialogOpen()) refresh({ fresh: true });
}, REFRESH_MS);
document.addEventListener("visibilitychange", () => {
  if (!document.hidden && current && Date.now() - lastLoaded >= REFRESH_MS) refresh({ fresh: true });
});

route();
