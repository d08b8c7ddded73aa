// Charts drawn from the stats document: the sent → delivered → opened → clicked funnel (an ordered list whose bars
// are sized through the CSS object model, allowed by the page's style-src 'self') and the daily series (SVG, with
// the same numbers as a table for screen readers and keyboard users).

import { h, num, pct, svg } from "./dom.js";

export const FUNNEL = [
  ["sent", "Sent"],
  ["delivered", "Delivered"],
  ["opened_unique", "Opened"],
  ["clicked_unique", "Clicked"],
];

export function funnel(counters) {
  const top = Math.max(1, counters.sent || 0);
  return h(
    "ol",
    { class: "funnel", "aria-label": "Funnel: sent, delivered, opened, clicked (unique)" },
    FUNNEL.map(([key, label]) => {
      const value = counters[key] || 0;
      const fill = h("span", { class: `fill fill-${key}` });
      fill.style.width = `${Math.min(100, (100 * value) / top)}%`;
      return h(
        "li",
        { dataset: { stage: key } },
        h("span", { class: "stage" }, label),
        h("span", { class: "bar", "aria-hidden": "true" }, fill),
        h("span", { class: "count" }, num(value)),
        h("span", { class: "share" }, pct(value / top)),
      );
    }),
  );
}

const SERIES = [
  ["sent", "Sent"],
  ["delivered", "Delivered"],
  ["opened_unique", "Opened"],
  ["clicked_unique", "Clicked"],
];

export function dailyChart(series) {
  if (!series.length) return h("p", { class: "empty" }, "No daily numbers yet.");
  const width = 720;
  const height = 220;
  const pad = { left: 48, right: 8, top: 10, bottom: 28 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const peak = Math.max(1, ...series.map((d) => d.counters.sent || 0), ...series.map((d) => d.counters.delivered || 0));
  const groupW = plotW / series.length;
  const barW = Math.max(1, (groupW * 0.8) / SERIES.length);
  const labelEvery = Math.ceil(series.length / 8);
  const parts = [];
  for (const tick of [0, 0.5, 1]) {
    const y = pad.top + plotH - plotH * tick;
    parts.push(svg("line", { x1: pad.left, x2: width - pad.right, y1: y, y2: y, class: "grid" }));
    parts.push(svg("text", { x: pad.left - 6, y: y + 4, class: "axis", "text-anchor": "end" }, num(peak * tick)));
  }
  series.forEach((day, i) => {
    const x0 = pad.left + i * groupW + groupW * 0.1;
    SERIES.forEach(([key, label], j) => {
      const value = day.counters[key] || 0;
      const barH = (plotH * value) / peak;
      parts.push(
        svg(
          "rect",
          { x: x0 + j * barW, y: pad.top + plotH - barH, width: Math.max(0.5, barW - 1), height: barH, class: `fill-${key}` },
          svg("title", null, `${day.day} ${label}: ${num(value)}`),
        ),
      );
    });
    if (i % labelEvery === 0) {
      parts.push(svg("text", { x: x0 + (barW * SERIES.length) / 2, y: height - 8, class: "axis", "text-anchor": "middle" }, day.day.slice(5)));
    }
  });
  const first = series[0].day;
  const last = series[series.length - 1].day;
  const chart = svg(
    "svg",
    { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `Daily sent, delivered, opened and clicked from ${first} to ${last}`, class: "daily" },
    parts,
  );
  const legend = h(
    "ul",
    { class: "legend", "aria-hidden": "true" },
    SERIES.map(([key, label]) => h("li", null, h("span", { class: `swatch fill-${key}` }), label)),
  );
  const rows = series.map((day) =>
    h("tr", null, h("th", { scope: "row" }, day.day), SERIES.map(([key]) => h("td", { class: "num" }, num(day.counters[key] || 0)))),
  );
  const numbers = h(
    "details",
    { class: "chart-table" },
    h("summary", null, "Daily numbers as a table"),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        null,
        h("caption", { class: "visually-hidden" }, "Daily counters"),
        h("thead", null, h("tr", null, h("th", { scope: "col" }, "Day"), SERIES.map(([, label]) => h("th", { scope: "col", class: "num" }, label)))),
        h("tbody", null, rows),
      ),
    ),
  );
  return h("figure", { class: "chart" }, chart, legend, numbers);
}
