// Campaigns: GET /campaigns (newest first, each with its latest counters and rates), 20 a page.

import { get, query, seg } from "./api.js";
import { Pager, badge, h, num, pct, replace, table, when } from "./dom.js";

const PAGE_SIZE = 20;
const pager = new Pager(); // kept across visits: back from a campaign returns to the same page

function nameCell(item) {
  return [
    h("a", { href: `#/campaigns/${seg(item.campaign_id)}`, "data-focus-key": `c-${item.campaign_id}` }, item.campaign_id),
    item.name && item.name !== item.campaign_id ? h("span", { class: "sub" }, item.name) : null,
  ];
}

function rate(key) {
  // nothing sent yet (scheduled): no rate rather than a misleading 0 %
  return (item) => (item.data_expired ? noData() : item.counters.sent ? pct(item.rates[key]) : h("span", { class: "muted" }, "—"));
}

const noData = () => h("span", { class: "no-data" }, "no data");

const COLUMNS = [
  { label: "Campaign", cell: nameCell, key: "campaign" },
  { label: "Status", cell: (item) => badge(item.status || "unknown"), key: "status" },
  { label: "Created", cell: (item) => when(item.created_at), key: "created" },
  { label: "Sent", cell: (item) => (item.data_expired ? noData() : num(item.counters.sent)), numeric: true, key: "sent" },
  { label: "Delivered", cell: rate("delivery_rate"), numeric: true, key: "delivery_rate" },
  { label: "Opened", cell: rate("open_rate"), numeric: true, key: "open_rate" },
  { label: "Clicked", cell: rate("click_rate"), numeric: true, key: "click_rate" },
  { label: "Bounced", cell: rate("bounce_rate"), numeric: true, key: "bounce_rate" },
  { label: "Complaints", cell: rate("complaint_rate"), numeric: true, key: "complaint_rate" },
];

export function mount(region, params, ctx) {
  const list = h("div", { class: "list" });
  region.append(
    h("h1", null, "Campaigns"),
    h(
      "p",
      { class: "lede" },
      "Newest first. Delivery and bounce rates are of sent mail; open, click and complaint rates of delivered mail. ",
      "Opens are an upper bound (mail privacy proxies open every message).",
    ),
    list,
  );

  async function load({ fresh }) {
    const page = await get(`campaigns${query({ limit: PAGE_SIZE, next_token: pager.token })}`, { fresh });
    pager.update(page.next_token);
    const items = page.items || [];
    replace(
      list,
      table("Campaigns", COLUMNS, items, {
        rowKey: (item) => item.campaign_id,
        empty: "No campaigns yet. Submit one with POST /campaigns (or sesame campaign submit); it shows here once sent.",
      }),
      pager.controls("Campaign pages", ctx.reload),
    );
  }

  return { title: "Campaigns", load };
}
