// Reputation: GET /reputation — per sending region (production access, sending enabled, quotas, bounce and complaint
// rates, status), the same rates per configuration set, and what sesame has paused and why. Deployments without the
// route get a "not available" note instead (API Gateway answers an unknown route with 403 "Missing Authentication
// Token": see ApiError.notRouted).

import { ApiError, get } from "./api.js";
import { badge, h, notice, num, pct, replace, table, when } from "./dom.js";

const KNOWN = [
  ["kind", "What"],
  ["name", "Name"],
  ["region", "Region"],
  ["configuration_set", "Configuration set"],
  ["campaign_id", "Campaign"],
  ["status", "Status"],
  ["production_access", "Access"],
  ["sending_enabled", "Sending"],
  ["bounce_rate", "Bounce rate"],
  ["complaint_rate", "Complaint rate"],
  ["rates_source", "Rates from"],
  ["sent_last_24h", "Sent (24 h)"],
  ["max_24h_send", "Daily quota"],
  ["max_send_rate", "Max rate /s"],
  ["volume", "Sent (window)"],
  ["reason", "Reason"],
  ["by", "By"],
  ["at", "Since"],
  ["paused_at", "Since"],
];

function cellFor(key, value) {
  if (value === null || value === undefined || value === "") return h("span", { class: "muted" }, "—");
  if (key === "status") return badge(String(value));
  if (key === "production_access") return value ? "production" : badge("sandbox", "warning");
  if (key === "sending_enabled") return value ? "enabled" : badge("disabled", "danger");
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (key.endsWith("_rate") && typeof value === "number" && value <= 1 && key !== "max_send_rate") return pct(value);
  if (typeof value === "number") return num(value);
  if ((key === "at" || key.endsWith("_at")) && typeof value === "string") return when(value);
  if (typeof value === "object") return h("code", null, JSON.stringify(value));
  return String(value);
}

/** A table of whatever rows the API gives: known columns first, in a fixed order, then any others it adds. */
function rowsTable(caption, rows) {
  const keys = [];
  for (const row of rows) for (const key of Object.keys(row)) if (!keys.includes(key)) keys.push(key);
  const known = KNOWN.filter(([key]) => keys.includes(key));
  const extra = keys.filter((key) => !KNOWN.some(([k]) => k === key)).map((key) => [key, key.replaceAll("_", " ")]);
  const columns = [...known, ...extra].map(([key, label]) => ({ label, key, cell: (row) => cellFor(key, row[key]), numeric: key.endsWith("_rate") || key.startsWith("max_") || key.startsWith("sent_") }));
  return table(caption, columns, rows, { empty: "None." });
}

const listOf = (value) => (Array.isArray(value) ? value.filter((v) => v && typeof v === "object") : []);

export function mount(region) {
  const body = h("div");
  region.append(
    h("h1", null, "Reputation"),
    h(
      "p",
      { class: "lede" },
      "Bounce and complaint rates per region and configuration set. SES reviews an account above 5 % bounces or 0.1 % complaints; Gmail and Yahoo require spam rates below 0.3 %.",
    ),
    body,
  );

  async function load({ fresh }) {
    let doc;
    try {
      doc = await get("reputation", { fresh });
    } catch (error) {
      if (error instanceof ApiError && error.notRouted) {
        replace(
          body,
          notice(
            "info",
            "Not available on this deployment",
            h("p", null, "This sesame version has no GET /reputation. The CloudWatch dashboard and the bounce and complaint alarms of the stack still watch reputation."),
          ),
        );
        return;
      }
      throw error;
    }
    const regions = Array.isArray(doc) ? doc : listOf(doc.regions || doc.items);
    const sets = listOf(doc.configuration_sets);
    const paused = listOf(doc.paused || doc.guardrails).map(({ new: _fresh, ...rest }) => rest);
    const campaigns = listOf(doc.campaigns);
    const asOf = doc.taken_at || doc.updated_at;
    replace(
      body,
      asOf ? h("p", { class: "hint" }, "As of ", when(asOf), doc.stale ? " (stale: the per-minute schedule is not running)" : "") : null,
      h("section", { "aria-labelledby": "rep-regions" }, h("h2", { id: "rep-regions" }, "Regions"), rowsTable("Reputation by region", regions)),
      sets.length ? h("section", { "aria-labelledby": "rep-sets" }, h("h2", { id: "rep-sets" }, "Configuration sets"), rowsTable("Reputation by configuration set", sets)) : null,
      campaigns.length ? h("section", { "aria-labelledby": "rep-campaigns" }, h("h2", { id: "rep-campaigns" }, "Campaigns (rolling window)"), rowsTable("Guardrail rates by campaign", campaigns)) : null,
      h(
        "section",
        { "aria-labelledby": "rep-paused" },
        h("h2", { id: "rep-paused" }, "Paused by guardrails"),
        paused.length ? rowsTable("What sesame paused, and why", paused) : h("p", { class: "empty" }, "Nothing is paused."),
      ),
    );
  }

  return { title: "Reputation", load };
}
