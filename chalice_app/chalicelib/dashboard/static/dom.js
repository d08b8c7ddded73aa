// DOM helpers. Everything is built with createElement/textContent: no HTML strings (the page's Trusted Types policy
// refuses innerHTML), so nothing the API returns can become markup.

const SVG_NS = "http://www.w3.org/2000/svg";

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function setAttrs(node, attrs) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  return node;
}

/** h("a", {href: "#/x"}, "text", child, [more]) */
export function h(tag, attrs, ...children) {
  return append(setAttrs(document.createElement(tag), attrs), children);
}

export function svg(tag, attrs, ...children) {
  return append(setAttrs(document.createElementNS(SVG_NS, tag), attrs), children);
}

// ---------------------------------------------------------------------------------------------------------------
// formatting (the reader's locale; numbers as the API gives them)

const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const percent = new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 2 });
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const clock = new Intl.DateTimeFormat(undefined, { timeStyle: "medium" });

export const num = (value) => integer.format(Number(value) || 0);
export const pct = (value) => percent.format(Number(value) || 0);
export const clockTime = (date) => clock.format(date);

/** A <time> in the reader's time zone, with the UTC ISO value as its machine-readable form and tooltip. */
export function when(iso) {
  if (!iso) return h("span", { class: "muted" }, "—");
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return h("time", { datetime: iso, title: iso }, dateTime.format(date));
}

/** A suppression scope key (ALL, LIST#x, CAMPAIGN#y) in words. */
export function scopeText(scope) {
  if (scope === "ALL") return "all mail";
  if (scope.startsWith("LIST#")) return `list ${scope.slice(5)}`;
  if (scope.startsWith("CAMPAIGN#")) return `campaign ${scope.slice(9)}`;
  return scope;
}

export function badge(text, kind) {
  return h("span", { class: `badge badge-${kind || String(text).toLowerCase().replace(/[^a-z0-9]+/g, "-")}` }, text);
}

// ---------------------------------------------------------------------------------------------------------------
// building blocks

/**
 * A table that becomes a list of cards on narrow screens (each cell labelled by its column).
 * columns: [{label, cell: row => node|text, numeric?, key?}]
 */
export function table(caption, columns, rows, { empty = "Nothing to show.", rowKey } = {}) {
  if (!rows.length) return h("p", { class: "empty" }, empty);
  const head = h("tr", null, columns.map((c) => h("th", { scope: "col", class: c.numeric ? "num" : null }, c.label)));
  const body = rows.map((row) =>
    h(
      "tr",
      { dataset: rowKey ? { key: rowKey(row) } : undefined },
      columns.map((c, i) => {
        const content = c.cell(row);
        const attrs = { "data-label": c.label, class: c.numeric ? "num" : null, dataset: c.key ? { field: c.key } : undefined };
        if (i === 0 && c.header !== false) return h("th", { scope: "row", ...attrs }, content);
        return h("td", attrs, content);
      }),
    ),
  );
  return h(
    "div",
    { class: "table-wrap" },
    h("table", { class: "responsive" }, h("caption", { class: "visually-hidden" }, caption), h("thead", null, head), h("tbody", null, body)),
  );
}

/** Previous/next over opaque next_token pages. */
export class Pager {
  constructor() {
    this.reset();
  }

  reset() {
    this.tokens = [null];
    this.index = 0;
    this.nextToken = null;
  }

  get token() {
    return this.tokens[this.index];
  }

  update(nextToken) {
    this.nextToken = nextToken || null;
  }

  controls(label, onChange) {
    const prev = h("button", { type: "button", disabled: this.index === 0 }, "← Previous");
    const next = h("button", { type: "button", disabled: !this.nextToken }, "Next →");
    prev.addEventListener("click", () => {
      this.index -= 1;
      onChange();
    });
    next.addEventListener("click", () => {
      this.tokens = this.tokens.slice(0, this.index + 1);
      this.tokens.push(this.nextToken);
      this.index += 1;
      onChange();
    });
    if (this.index === 0 && !this.nextToken) return null;
    return h("nav", { class: "pager", "aria-label": label }, prev, h("span", { class: "muted" }, `Page ${this.index + 1}`), next);
  }
}

/** A labelled field: <div><label for=id>Label</label><input id=id ...></div> */
export function field(label, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  const hintNode = hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null;
  if (hintNode) control.setAttribute("aria-describedby", hintNode.id);
  return h("div", { class: "field" }, h("label", { for: id }, label), control, hintNode);
}

export function select(options, value, attrs) {
  return h(
    "select",
    attrs,
    options.map(([optionValue, text]) => h("option", { value: optionValue, selected: optionValue === value }, text)),
  );
}

/** A notice box: kind = info | error | warning | success. */
export function notice(kind, title, ...body) {
  return h("div", { class: `notice notice-${kind}`, role: kind === "error" ? "alert" : null }, h("p", { class: "notice-title" }, title), body);
}

/** Replace a region's content, keeping keyboard focus on the "same" control when it is rebuilt (data-focus-key). */
export function replace(region, ...children) {
  const active = document.activeElement;
  const key = active && region.contains(active) ? active.dataset.focusKey : null;
  region.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  if (key) {
    const again = region.querySelector(`[data-focus-key="${CSS.escape(key)}"]`);
    if (again) again.focus();
  }
}

/** A modal confirmation (<dialog>): resolves true when confirmed, false on cancel or Escape. */
export function confirmDialog({ title, body, confirm, danger = false }) {
  return new Promise((resolve) => {
    const ok = h("button", { type: "button", class: danger ? "danger" : "primary" }, confirm);
    const cancel = h("button", { type: "button" }, "Cancel");
    const heading = h("h2", { id: "dialog-title" }, title);
    const dialog = h(
      "dialog",
      { "aria-labelledby": "dialog-title", class: "confirm" },
      heading,
      [body].flat().map((p) => (p instanceof Node ? p : h("p", null, p))),
      h("div", { class: "actions" }, cancel, ok),
    );
    ok.addEventListener("click", () => dialog.close("confirm"));
    cancel.addEventListener("click", () => dialog.close("cancel"));
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(dialog.returnValue === "confirm");
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}

export const dialogOpen = () => Boolean(document.querySelector("dialog[open]"));
