// One campaign: GET /campaigns/{id}/stats?by=day,list (funnel, counters, rates, per-list table and daily chart from
// one request) and GET /campaigns/{id}/messages?status= (messages by status, drill-down to a message's events).
// Controls: pause / resume / cancel (PATCH /campaigns/{id}) where the deployment has them; a scheduled campaign can
// be sent now or deleted before launch (/campaigns/{id}/schedule).

import { ApiError, capabilities, get, query, request, seg } from "./api.js";
import { dailyChart, funnel } from "./charts.js";
import { Pager, badge, confirmDialog, field, h, notice, num, pct, replace, select, table, when } from "./dom.js";

export const STATUSES = [
  "queued",
  "suppressed",
  "failed",
  "sent",
  "delayed",
  "delivered",
  "opened",
  "clicked",
  "rendering_failed",
  "rejected",
  "bounced",
  "complained",
];

const COUNTERS = [
  ["sent", "Sent"],
  ["delivered", "Delivered"],
  ["bounced_hard", "Bounced, permanent"],
  ["bounced_soft", "Bounced, transient"],
  ["bounced_undetermined", "Bounced, undetermined"],
  ["complained", "Complaints"],
  ["rejected", "Rejected"],
  ["delayed", "Delayed"],
  ["rendering_failed", "Rendering failed"],
  ["opened_unique", "Opened (unique)"],
  ["opened_total", "Opens (total)"],
  ["clicked_unique", "Clicked (unique)"],
  ["clicked_total", "Clicks (total)"],
  ["unsubscribed", "Unsubscribed"],
  ["suppressed", "Not sent: suppressed"],
  ["ses_suppressed", "Not sent: on the SES suppression list"],
  ["not_spam", "Not-spam reports"],
  ["failed", "Failed"],
];

const RATES = [
  ["delivery_rate", "Delivery rate", "of sent"],
  ["bounce_rate", "Bounce rate", "of sent"],
  ["open_rate", "Open rate", "of delivered"],
  ["click_rate", "Click rate", "of delivered"],
  ["click_to_open_rate", "Click-to-open", "of opened"],
  ["complaint_rate", "Complaint rate", "of delivered"],
  ["unsubscribe_rate", "Unsubscribe rate", "of delivered"],
];

// Transitions of PATCH /campaigns/{id} {"status": ...} by the campaign's current status.
const CONTROLS = {
  completed: [],
  cancelled: [],
  invalid: [],
  validating: [["paused", "Pause"], ["cancelled", "Cancel"]],
  scheduled: [["paused", "Pause"], ["cancelled", "Cancel"]],
  launching: [["paused", "Pause"], ["cancelled", "Cancel"]],
  launched: [["paused", "Pause"], ["cancelled", "Cancel"]],
  running: [["paused", "Pause"], ["cancelled", "Cancel"]],
  paused: [["running", "Resume"], ["cancelled", "Cancel"]],
};

const state = { campaignId: null, status: "", pager: new Pager() };

function counterGrid(counters) {
  return h(
    "dl",
    { class: "stat-grid" },
    COUNTERS.map(([key, label]) => h("div", { dataset: { counter: key } }, h("dt", null, label), h("dd", null, num(counters[key])))),
  );
}

function rateGrid(rates) {
  return h(
    "dl",
    { class: "stat-grid" },
    RATES.map(([key, label, base]) =>
      h("div", { dataset: { rate: key } }, h("dt", null, label, h("span", { class: "sub" }, base)), h("dd", null, pct(rates[key]))),
    ),
  );
}

const LIST_COLUMNS = [
  { label: "List", cell: (b) => b.list_name, key: "list" },
  { label: "Sent", cell: (b) => num(b.counters.sent), numeric: true, key: "sent" },
  { label: "Delivered", cell: (b) => pct(b.rates.delivery_rate), numeric: true, key: "delivery_rate" },
  { label: "Opened", cell: (b) => pct(b.rates.open_rate), numeric: true, key: "open_rate" },
  { label: "Clicked", cell: (b) => pct(b.rates.click_rate), numeric: true, key: "click_rate" },
  { label: "Bounced", cell: (b) => pct(b.rates.bounce_rate), numeric: true, key: "bounce_rate" },
  { label: "Complaints", cell: (b) => pct(b.rates.complaint_rate), numeric: true, key: "complaint_rate" },
  { label: "Unsubscribed", cell: (b) => num(b.counters.unsubscribed), numeric: true, key: "unsubscribed" },
];

const MESSAGE_COLUMNS = [
  {
    label: "Recipient",
    cell: (m) => h("a", { href: `#/messages/${seg(m.message_id)}`, "data-focus-key": `m-${m.message_id}` }, m.recipient || m.message_id),
    key: "recipient",
  },
  { label: "Status", cell: (m) => badge(m.status), key: "status" },
  { label: "Sent", cell: (m) => when(m.sent_at), key: "sent_at" },
  { label: "List", cell: (m) => m.list_name || "—", key: "list" },
  { label: "Opens", cell: (m) => num(m.open_count), numeric: true, key: "opens" },
  { label: "Clicks", cell: (m) => num(m.click_count), numeric: true, key: "clicks" },
];

export function mount(region, [campaignId], ctx) {
  if (state.campaignId !== campaignId) {
    state.campaignId = campaignId;
    state.status = "";
    state.pager.reset();
  }
  const path = `campaigns/${seg(campaignId)}`;
  const subtitle = h("p", { class: "lede" });
  const controls = h("div", { class: "controls" });
  const feedback = h("div", { class: "feedback", "aria-live": "polite" });
  const overview = h("div");
  const messages = h("div");
  const messagesSection = h("section", { "aria-labelledby": "messages-title" });

  const statusSelect = select(
    [["", "All statuses"], ...STATUSES.map((s) => [s, s.replace("_", " ")])],
    state.status,
    { "data-focus-key": "status-filter" },
  );
  statusSelect.addEventListener("change", () => {
    state.status = statusSelect.value;
    state.pager.reset();
    loadMessages({ fresh: false }).catch(ctx.fail);
  });
  messagesSection.append(
    h("h2", { id: "messages-title" }, "Messages"),
    h("form", { class: "filters", onsubmit: (e) => e.preventDefault() }, field("Status", statusSelect)),
    messages,
  );

  region.append(
    h("p", { class: "crumbs" }, h("a", { href: "#/campaigns" }, "← All campaigns")),
    h("h1", null, "Campaign ", h("code", null, campaignId)),
    subtitle,
    controls,
    feedback,
    overview,
    messagesSection,
  );

  async function act(label, fn) {
    try {
      await fn();
      replace(feedback, notice("success", `${label}: done.`));
      ctx.refresh();
    } catch (error) {
      if (error instanceof ApiError && !error.unauthorized && !error.transient) {
        replace(feedback, notice("error", `${label} was refused (${error.status}).`, h("p", null, error.message)));
      } else {
        ctx.fail(error);
      }
    }
  }

  async function drawControls(stats) {
    const caps = await capabilities();
    const buttons = [];
    let status = stats.status || "";
    let control = null;
    let validation = null;
    if (caps.has("get", "/campaigns/{campaign_id}")) {
      // the campaign's own status (running, paused, cancelled, completed ...) and who paused it, when and why
      try {
        const campaign = await get(path, { fresh: true });
        status = campaign.status || status;
        control = campaign.control || null;
        validation = campaign.validation || null;
      } catch (error) {
        if (!(error instanceof ApiError) || error.unauthorized || error.transient) throw error;
      }
    }
    if (caps.has("patch", "/campaigns/{campaign_id}")) {
      for (const [target, label] of CONTROLS[status] || []) {
        const button = h("button", { type: "button", class: target === "cancelled" ? "danger" : null }, label);
        button.addEventListener("click", async () => {
          if (
            target === "cancelled" &&
            !(await confirmDialog({
              title: `Cancel campaign ${campaignId}?`,
              body: "Its remaining recipients will not be sent to. Mail already sent is not affected.",
              confirm: "Cancel the campaign",
              danger: true,
            }))
          ) {
            return;
          }
          await act(label, () => request("PATCH", path, { body: { status: target } }));
        });
        buttons.push(button);
      }
    }
    if (status === "scheduled" || status === "validating" || status === "invalid") {
      if (status === "scheduled" && caps.has("patch", "/campaigns/{campaign_id}/schedule")) {
        const now = h("button", { type: "button" }, "Send now");
        now.addEventListener("click", () => act("Send now", () => request("PATCH", `${path}/schedule`, { body: { date: "now" } })));
        buttons.push(now);
      }
      if (caps.has("delete", "/campaigns/{campaign_id}/schedule")) {
        const del = h("button", { type: "button", class: "danger" }, "Delete before launch");
        del.addEventListener("click", async () => {
          const sure = await confirmDialog({
            title: `Delete ${status} campaign ${campaignId}?`,
            body: "It will not be sent. Its recipients and template are deleted with it.",
            confirm: "Delete the campaign",
            danger: true,
          });
          if (sure) await act("Delete", () => request("DELETE", `${path}/schedule`));
        });
        buttons.push(del);
      }
    }
    let note = control
      ? h("p", { class: "hint control-note" }, `${control.status === "cancelled" ? "Cancelled" : "Paused"} by ${control.by}`, control.at ? [" at ", when(control.at)] : "", control.reason ? `: ${control.reason}` : "")
      : null;
    if (!note && validation && (status === "validating" || status === "invalid")) {
      // recipient files: validated in steps by the per-minute check; an invalid campaign lists its first bad rows
      const summary = `Recipient files: ${num(validation.rows_validated)} rows read, ${num(validation.bad_rows)} bad`;
      note = h(
        "div",
        { class: "hint validation-note" },
        h("p", null, status === "validating" ? `${summary} (validating)` : `${summary}: nothing was sent`),
        validation.errors && validation.errors.length ? h("ul", null, validation.errors.map((e) => h("li", null, e))) : null,
      );
    }
    if (buttons.length) {
      replace(controls, note, h("div", { class: "actions", role: "group", "aria-label": "Campaign controls" }, buttons));
    } else if (note) {
      replace(controls, note);
    } else if (CONTROLS[status] && !caps.has("patch", "/campaigns/{campaign_id}")) {
      replace(controls, h("p", { class: "hint" }, "Pause, resume and cancel are not available on this deployment (it has no PATCH /campaigns/{id})."));
    } else {
      replace(controls);
    }
  }

  let latestMessages = 0;
  async function loadMessages({ fresh }) {
    const ticket = ++latestMessages;
    const page = await get(`${path}/messages${query({ status: state.status, limit: 25, next_token: state.pager.token })}`, { fresh });
    // a newer request (another status filter or page) started meanwhile: its answer, not this older one, is shown
    if (ticket !== latestMessages) return;
    state.pager.update(page.next_token);
    replace(
      messages,
      table("Messages of this campaign", MESSAGE_COLUMNS, page.items || [], {
        rowKey: (m) => m.message_id,
        empty: state.status ? `No ${state.status.replace("_", " ")} messages.` : "No messages recorded for this campaign.",
      }),
      state.pager.controls("Message pages", () => loadMessages({ fresh: false }).catch(ctx.fail)),
    );
  }

  async function load({ fresh }) {
    let stats;
    try {
      stats = await get(`${path}/stats?by=day,list`, { fresh });
    } catch (error) {
      if (error instanceof ApiError && (error.expired || error.code === "NotFoundError")) {
        subtitle.replaceChildren();
        replace(controls);
        replace(
          overview,
          error.expired
            ? notice("info", "No data", h("p", null, error.message), h("p", null, "Tracking data is kept for a limited time (90 days by default); the campaign's record remains."))
            : notice("warning", "Campaign not found", h("p", null, error.message)),
        );
        messagesSection.hidden = true;
        return;
      }
      throw error;
    }
    messagesSection.hidden = false;
    subtitle.replaceChildren(
      h(
        "span",
        null,
        badge(stats.status || "unknown"),
        stats.name ? ` ${stats.name}` : "",
        stats.first_event_at ? [" · events from ", when(stats.first_event_at), " to ", when(stats.last_event_at)] : "",
      ),
    );
    if (stats.status === "scheduled") {
      const schedule = await get(`${path}/schedule`, { fresh }).catch(() => null);
      if (schedule && schedule.launch_at) subtitle.append(" · sends ", when(schedule.launch_at));
    }
    replace(
      overview,
      h("section", { "aria-labelledby": "funnel-title" }, h("h2", { id: "funnel-title" }, "Funnel"), funnel(stats.counters)),
      h(
        "div",
        { class: "two-col" },
        h("section", { "aria-labelledby": "counters-title" }, h("h2", { id: "counters-title" }, "Counters"), counterGrid(stats.counters)),
        h("section", { "aria-labelledby": "rates-title" }, h("h2", { id: "rates-title" }, "Rates"), rateGrid(stats.rates)),
      ),
      h(
        "section",
        { "aria-labelledby": "lists-title" },
        h("h2", { id: "lists-title" }, "By list"),
        table("Counters and rates by list", LIST_COLUMNS, stats.by_list || [], { rowKey: (b) => b.list_name, empty: "No list breakdown." }),
      ),
      h("section", { "aria-labelledby": "daily-title" }, h("h2", { id: "daily-title" }, "By day (UTC)"), dailyChart(stats.series || [])),
    );
    await drawControls(stats);
    await loadMessages({ fresh });
  }

  return { title: `Campaign ${campaignId}`, load };
}
