// Recipient lookup (GDPR access): GET /recipients/{email}/messages (their messages, and their suppressions on the first
// page) and GET /recipients/{email}/events; erasure with DELETE /recipients/{email} after a confirmation.
// The address stays in this page's memory only: it is not put in the URL or in storage.

import { ApiError, get, query, request, seg } from "./api.js";
import { Pager, badge, confirmDialog, field, h, notice, replace, scopeText, table, when } from "./dom.js";
import { timeline } from "./view-message.js";

const state = { email: "", messages: new Pager(), events: new Pager(), outcome: null };

const MESSAGE_COLUMNS = [
  { label: "Sent", cell: (m) => h("a", { href: `#/messages/${seg(m.message_id)}` }, when(m.sent_at)), key: "sent_at" },
  {
    label: "Campaign",
    cell: (m) => (m.campaign_id && m.campaign_id !== "untagged" ? h("a", { href: `#/campaigns/${seg(m.campaign_id)}` }, m.campaign_id) : "—"),
    key: "campaign",
  },
  { label: "Status", cell: (m) => badge(m.status), key: "status" },
  { label: "Subject", cell: (m) => m.subject || "—", key: "subject" },
  { label: "List", cell: (m) => m.list_name || "—", key: "list" },
];

const SUPPRESSION_COLUMNS = [
  { label: "Scope", cell: (s) => scopeText(s.scope), key: "scope" },
  { label: "Reason", cell: (s) => badge(s.reason), key: "reason" },
  { label: "Since", cell: (s) => when(s.created_at), key: "created_at" },
  { label: "Until", cell: (s) => (s.expires_at ? when(new Date(s.expires_at * 1000).toISOString()) : "permanent"), key: "expires" },
];

export function mount(region, params, ctx) {
  const input = h("input", { type: "email", autocomplete: "off", spellcheck: "false", required: true, value: state.email, "data-focus-key": "email" });
  const form = h("form", { class: "inline-form", role: "search", novalidate: true }, field("Email address", input), h("button", { type: "submit", class: "primary" }, "Look up"));
  const results = h("div", { class: "results" });
  region.append(
    h("h1", null, "Recipients"),
    h("p", { class: "lede" }, "Everything sesame holds on one person: the messages sent to them, their events and suppressions. Erase it on request (GDPR)."),
    form,
    results,
  );

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const email = input.value.trim();
    if (!email) {
      input.focus();
      return;
    }
    state.email = email;
    state.messages.reset();
    state.events.reset();
    state.outcome = null;
    ctx.reload();
  });

  async function erase() {
    const email = state.email;
    const sure = await confirmDialog({
      title: `Erase all data of ${email}?`,
      body: [
        "Their messages and events are deleted and their suppressions lose the address. A suppression keyed by the address's hash stays, so they are never emailed again.",
        "This cannot be undone.",
      ],
      confirm: "Erase",
      danger: true,
    });
    if (!sure) return;
    try {
      const result = await request("DELETE", `recipients/${seg(email)}`);
      state.outcome = notice(
        "success",
        `Erased the data of ${email}.`,
        h("p", null, `${result.deleted_messages} messages and ${result.deleted_events} events deleted; ${result.suppressions_anonymised} suppressions anonymised; the address stays suppressed (by its hash).`),
      );
      state.messages.reset();
      state.events.reset();
      ctx.refresh();
    } catch (error) {
      ctx.fail(error);
    }
  }

  async function load({ fresh }) {
    if (!state.email) {
      replace(results);
      return;
    }
    const address = seg(state.email);
    let messages;
    let events;
    try {
      [messages, events] = await Promise.all([
        get(`recipients/${address}/messages${query({ limit: 25, next_token: state.messages.token })}`, { fresh }),
        get(`recipients/${address}/events${query({ limit: 25, next_token: state.events.token })}`, { fresh }),
      ]);
    } catch (error) {
      if (error instanceof ApiError && error.status === 400) {
        replace(results, notice("error", "That address cannot be looked up.", h("p", null, error.message)));
        return;
      }
      throw error;
    }
    state.messages.update(messages.next_token);
    state.events.update(events.next_token);
    const eraseButton = h("button", { type: "button", class: "danger" }, "Erase this person's data…");
    eraseButton.addEventListener("click", erase);
    const suppressions = messages.suppressions;
    replace(
      results,
      state.outcome,
      h("h2", null, "Results for ", h("span", { class: "address" }, state.email)),
      h("p", { class: "hint" }, "Recipient hash ", h("code", null, messages.recipient_hash)),
      h(
        "section",
        { "aria-labelledby": "r-supp" },
        h("h3", { id: "r-supp" }, "Suppressions"),
        suppressions === undefined
          ? h("p", { class: "hint" }, "Listed with the first page of messages.")
          : table("Suppressions of this address", SUPPRESSION_COLUMNS, suppressions, { empty: "Not suppressed: sesame sends to this address." }),
      ),
      h(
        "section",
        { "aria-labelledby": "r-msgs" },
        h("h3", { id: "r-msgs" }, "Messages"),
        table("Messages sent to this address", MESSAGE_COLUMNS, messages.items || [], { empty: "No messages held for this address." }),
        state.messages.controls("Message pages", ctx.reload),
      ),
      h(
        "section",
        { "aria-labelledby": "r-events" },
        h("h3", { id: "r-events" }, "Events"),
        timeline(events.items || [], { showMessage: true }),
        state.events.controls("Event pages", ctx.reload),
      ),
      h("section", { "aria-labelledby": "r-erase", class: "danger-zone" }, h("h3", { id: "r-erase" }, "Erasure"), eraseButton),
    );
  }

  return { title: "Recipients", load };
}
