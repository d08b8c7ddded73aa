// Suppressions: GET /suppressions?reason= (newest first), GET /suppressions/{email}, PUT /suppressions/{email} (add)
// and DELETE /suppressions/{email}?scope= (lift, after a confirmation).

import { ApiError, get, query, request, seg } from "./api.js";
import { Pager, badge, confirmDialog, field, h, notice, replace, scopeText, select, table, when } from "./dom.js";

export const REASONS = ["BOUNCE", "COMPLAINT", "UNSUBSCRIBE", "MANUAL", "SOFT_BOUNCE"];
const ADDABLE = ["MANUAL", "BOUNCE", "COMPLAINT", "UNSUBSCRIBE"];

const state = { reason: "BOUNCE", pager: new Pager(), check: "", feedback: null };

function address(s) {
  if (s.email) return h("span", { class: "address" }, s.email);
  return h("span", { class: "muted" }, s.erased_at ? "erased " : "no address ", h("code", null, s.recipient_hash.slice(0, 12)));
}

export function mount(region, params, ctx) {
  const feedback = h("div", { class: "feedback", "aria-live": "polite" });
  const checkResult = h("div");
  const listRegion = h("div");

  async function lift(s) {
    const sure = await confirmDialog({
      title: `Lift this suppression of ${s.email}?`,
      body: `Reason ${s.reason}, scope ${scopeText(s.scope)}. sesame will send to this address again at that scope.`,
      confirm: "Lift the suppression",
      danger: true,
    });
    if (!sure) return;
    try {
      await request("DELETE", `suppressions/${seg(s.email)}${query({ scope: s.scope })}`);
      state.feedback = notice("success", `Lifted the ${s.reason} suppression of ${s.email} (${scopeText(s.scope)}).`);
      ctx.refresh();
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        state.feedback = notice("info", "That suppression was already lifted.");
        ctx.refresh();
      } else {
        ctx.fail(error);
      }
    }
  }

  const liftColumn = {
    label: "Action",
    cell: (s) =>
      s.email
        ? h("button", { type: "button", class: "small", "data-focus-key": `lift-${s.recipient_hash}-${s.scope}`, onclick: () => lift(s), "aria-label": `Lift ${s.reason} suppression of ${s.email} (${scopeText(s.scope)})` }, "Lift")
        : h("span", { class: "muted" }, "—"),
    key: "action",
  };
  const COLUMNS = [
    { label: "Address", cell: address, key: "address" },
    { label: "Scope", cell: (s) => scopeText(s.scope), key: "scope" },
    { label: "Reason", cell: (s) => badge(s.reason), key: "reason" },
    { label: "Since", cell: (s) => when(s.created_at), key: "created_at" },
    { label: "Until", cell: (s) => (s.expires_at ? when(new Date(s.expires_at * 1000).toISOString()) : "permanent"), key: "expires" },
    liftColumn,
  ];

  // add ---------------------------------------------------------------------------------------------------------
  const email = h("input", { type: "email", autocomplete: "off", spellcheck: "false", required: true });
  const scope = select([["all", "All mail"], ["list", "One list"], ["campaign", "One campaign"]], "all");
  const listName = h("input", { type: "text", autocomplete: "off" });
  const campaignId = h("input", { type: "text", autocomplete: "off" });
  const reason = select(ADDABLE.map((r) => [r, r]), "MANUAL");
  const listField = field("List name", listName);
  const campaignField = field("Campaign id", campaignId);
  const showScopeFields = () => {
    listField.hidden = scope.value !== "list";
    campaignField.hidden = scope.value !== "campaign";
  };
  scope.addEventListener("change", showScopeFields);
  showScopeFields();
  const addForm = h(
    "form",
    { class: "inline-form", novalidate: true, "aria-labelledby": "add-title" },
    field("Email address", email),
    field("Scope", scope),
    listField,
    campaignField,
    field("Reason", reason),
    h("button", { type: "submit", class: "primary" }, "Suppress"),
  );
  addForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { scope: scope.value, reason: reason.value };
    if (scope.value === "list") body.list_name = listName.value.trim();
    if (scope.value === "campaign") body.campaign_id = campaignId.value.trim();
    try {
      const stored = await request("PUT", `suppressions/${seg(email.value.trim())}`, { body });
      state.feedback = notice("success", `Suppressed ${stored.email} (${scopeText(stored.scope)}, ${stored.reason}).`);
      state.reason = stored.reason;
      reasonFilter.value = stored.reason;
      state.pager.reset();
      email.value = "";
      ctx.refresh();
    } catch (error) {
      if (error instanceof ApiError && error.status === 400) {
        replace(feedback, notice("error", "The suppression was not added.", h("p", null, error.message)));
      } else {
        ctx.fail(error);
      }
    }
  });

  // check one address ---------------------------------------------------------------------------------------------
  const checkInput = h("input", { type: "email", autocomplete: "off", spellcheck: "false", required: true, value: state.check });
  const checkForm = h("form", { class: "inline-form", role: "search", novalidate: true }, field("Email address", checkInput), h("button", { type: "submit" }, "Check"));
  checkForm.addEventListener("submit", (event) => {
    event.preventDefault();
    state.check = checkInput.value.trim();
    ctx.reload();
  });

  // list by reason ------------------------------------------------------------------------------------------------
  const reasonFilter = select(REASONS.map((r) => [r, r]), state.reason, { "data-focus-key": "reason" });
  reasonFilter.addEventListener("change", () => {
    state.reason = reasonFilter.value;
    state.pager.reset();
    ctx.reload();
  });

  region.append(
    h("h1", null, "Suppressions"),
    h("p", { class: "lede" }, "Addresses sesame will not send to: hard bounces and complaints at once, repeated soft bounces for a while, unsubscribes for their scope, and manual entries."),
    feedback,
    h("section", { "aria-labelledby": "add-title" }, h("h2", { id: "add-title" }, "Add"), addForm),
    h("section", { "aria-labelledby": "check-title" }, h("h2", { id: "check-title" }, "Check an address"), checkForm, checkResult),
    h(
      "section",
      { "aria-labelledby": "list-title" },
      h("h2", { id: "list-title" }, "By reason"),
      h("form", { class: "filters", onsubmit: (e) => e.preventDefault() }, field("Reason", reasonFilter)),
      listRegion,
    ),
  );

  async function loadCheck(fresh) {
    if (!state.check) {
      replace(checkResult);
      return;
    }
    try {
      const found = await get(`suppressions/${seg(state.check)}`, { fresh });
      // an erased entry has no address any more; the address typed here still identifies it (the API hashes it)
      const items = found.items.map((s) => ({ ...s, email: s.email || state.check }));
      replace(
        checkResult,
        h("p", null, found.suppressed ? "Suppressed." : "Listed, but no suppression is in force."),
        table(`Suppressions of ${state.check}`, COLUMNS, items),
      );
    } catch (error) {
      if (error instanceof ApiError && (error.code === "NotFoundError" || error.status === 400)) {
        replace(checkResult, error.status === 400 ? notice("error", "Not an address.", h("p", null, error.message)) : h("p", { class: "empty" }, `${state.check} is not suppressed.`));
        return;
      }
      throw error;
    }
  }

  async function load({ fresh }) {
    if (state.feedback) {
      replace(feedback, state.feedback);
      state.feedback = null;
    }
    const [page] = await Promise.all([
      get(`suppressions${query({ reason: state.reason, limit: 25, next_token: state.pager.token })}`, { fresh }),
      loadCheck(fresh),
    ]);
    state.pager.update(page.next_token);
    replace(
      listRegion,
      table(`${state.reason} suppressions`, COLUMNS, page.items || [], { rowKey: (s) => `${s.email || s.recipient_hash}|${s.scope}`, empty: `No ${state.reason} suppressions.` }),
      state.pager.controls("Suppression pages", ctx.reload),
    );
  }

  return { title: "Suppressions", load };
}
