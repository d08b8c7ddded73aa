// One message: GET /messages/{id} — its summary and its event timeline (oldest first), each event with what SES said.

import { ApiError, get, seg } from "./api.js";
import { badge, h, notice, num, replace, when } from "./dom.js";

/** One line on what an SES event says (the `detail` object SES published, as stored). */
export function eventSummary(event) {
  const d = event.detail && typeof event.detail === "object" ? event.detail : {};
  switch (event.event_type) {
    case "Send":
      return "Accepted by SES.";
    case "Delivery":
      return [d.smtpResponse, d.reportingMTA ? `by ${d.reportingMTA}` : ""].filter(Boolean).join(" ") || "Delivered.";
    case "Bounce": {
      const first = (d.bouncedRecipients || [])[0] || {};
      return [`${d.bounceType || "?"} / ${d.bounceSubType || "?"}`, first.diagnosticCode || first.status || ""].filter(Boolean).join(" — ");
    }
    case "Complaint":
      return `Complaint${d.complaintFeedbackType ? `: ${d.complaintFeedbackType}` : ""}${d.complaintSubType ? ` (${d.complaintSubType})` : ""}.`;
    case "Open":
      return d.userAgent ? `Opened with ${d.userAgent}` : "Opened.";
    case "Click":
      return d.link ? `Clicked ${d.link}` : "Clicked.";
    case "DeliveryDelay":
      return `Delayed: ${d.delayType || "?"}${d.expirationTime ? `, SES gives up at ${d.expirationTime}` : ""}.`;
    case "Reject":
      return `Rejected: ${d.reason || "?"}.`;
    case "Rendering Failure":
      return `Rendering failed: ${d.errorMessage || "?"}.`;
    case "Subscription":
      return "Subscription preferences changed.";
    default:
      return "";
  }
}

export function timeline(events, { showMessage = false } = {}) {
  if (!events.length) return h("p", { class: "empty" }, "No events recorded.");
  const ordered = [...events].sort((a, b) => String(a.timestamp).localeCompare(String(b.timestamp)));
  return h(
    "ol",
    { class: "timeline" },
    ordered.map((event) =>
      h(
        "li",
        { dataset: { eventType: event.event_type } },
        h("div", { class: "when" }, when(event.timestamp)),
        h(
          "div",
          { class: "what" },
          badge(event.event_type),
          " ",
          eventSummary(event),
          showMessage && event.message_id
            ? [" ", h("a", { href: `#/messages/${seg(event.message_id)}`, "aria-label": `view message (${event.event_type} event)` }, "view message")]
            : null,
          h("details", null, h("summary", null, "Event as stored"), h("pre", null, JSON.stringify(event.detail ?? {}, null, 2))),
        ),
      ),
    ),
  );
}

const FIELDS = [
  ["recipient", "Recipient"],
  ["campaign_id", "Campaign"],
  ["list_name", "List"],
  ["subject", "Subject"],
  ["from_address", "From"],
  ["config_set", "Configuration set"],
  ["region", "Region"],
  ["sent_at", "Sent"],
];

function summary(message) {
  const rows = FIELDS.filter(([key]) => message[key]).map(([key, label]) => {
    let value = message[key];
    if (key === "sent_at") value = when(value);
    if (key === "campaign_id" && value !== "untagged") value = h("a", { href: `#/campaigns/${seg(value)}` }, value);
    return h("div", null, h("dt", null, label), h("dd", null, value));
  });
  rows.push(h("div", null, h("dt", null, "Opens / clicks"), h("dd", null, `${num(message.open_count)} / ${num(message.click_count)}`)));
  return h("dl", { class: "facts" }, rows);
}

export function mount(region, [messageId]) {
  const body = h("div");
  const crumbs = h("p", { class: "crumbs" }, h("a", { href: "#/campaigns" }, "← Campaigns"));
  region.append(crumbs, h("h1", null, "Message"), h("p", { class: "lede" }, h("code", null, messageId)), body);

  async function load({ fresh }) {
    let doc;
    try {
      doc = await get(`messages/${seg(messageId)}`, { fresh });
    } catch (error) {
      if (error instanceof ApiError && (error.expired || error.code === "NotFoundError")) {
        replace(body, error.expired ? notice("info", "No data", h("p", null, error.message)) : notice("warning", "Message not found", h("p", null, error.message)));
        return;
      }
      throw error;
    }
    const message = doc.message || {};
    if (message.campaign_id && message.campaign_id !== "untagged") {
      crumbs.replaceChildren(h("a", { href: `#/campaigns/${seg(message.campaign_id)}` }, `← Campaign ${message.campaign_id}`));
    }
    replace(
      body,
      h("p", null, "Status ", badge(message.status || "unknown")),
      summary(message),
      h("section", { "aria-labelledby": "timeline-title" }, h("h2", { id: "timeline-title" }, "Events"), timeline(doc.events || [])),
    );
  }

  return { title: "Message", load };
}
