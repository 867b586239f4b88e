// Prefectures: all 47 as a tile map coloured by volume (or payments), and a table.
// A tile or a row opens the payments of that prefecture.

import { api } from "../api.js";
import { SEQUENTIAL, bucketTop, tileMap } from "../charts.js";
import { fill, h, int, money, panel, table } from "../dom.js";

const SHORT = {
  "JP-01": "Hkd", "JP-02": "Aom", "JP-03": "Iwa", "JP-04": "Miy", "JP-05": "Aki", "JP-06": "Ygt",
  "JP-07": "Fks", "JP-08": "Iba", "JP-09": "Toc", "JP-10": "Gun", "JP-11": "Sai", "JP-12": "Chi",
  "JP-13": "Tky", "JP-14": "Kng", "JP-15": "Nii", "JP-16": "Toy", "JP-17": "Ish", "JP-18": "Fki",
  "JP-19": "Ymn", "JP-20": "Nag", "JP-21": "Gif", "JP-22": "Shz", "JP-23": "Aic", "JP-24": "Mie",
  "JP-25": "Shg", "JP-26": "Kyo", "JP-27": "Osk", "JP-28": "Hyo", "JP-29": "Nar", "JP-30": "Wak",
  "JP-31": "Tot", "JP-32": "Shm", "JP-33": "Oky", "JP-34": "Hir", "JP-35": "Ymg", "JP-36": "Tok",
  "JP-37": "Kag", "JP-38": "Ehi", "JP-39": "Koc", "JP-40": "Fkk", "JP-41": "Sag", "JP-42": "Ngs",
  "JP-43": "Kum", "JP-44": "Oit", "JP-45": "Myz", "JP-46": "Kgs", "JP-47": "Oki",
};

function scaleLegend(top, format) {
  const steps = SEQUENTIAL.map((_, i) => (i === 0 ? "none" : `≤ ${format(bucketTop(i, top))}`));
  return h(
    "div",
    { class: "legend" },
    steps.map((label, i) => h("span", {}, h("span", { class: `swatch sq-${i}` }), label)),
  );
}

export async function render(root, context) {
  const data = await api("/v1/dashboard/prefectures");
  const metric = context.params.get("by") === "payments" ? "payments" : "volume";
  const format = metric === "volume" ? (v) => money(v, data.currency) : (v) => int(v);
  const open = (code) => context.navigate(`#/payments?region=${encodeURIComponent(code)}`);
  const tiles = data.prefectures.map((p) => ({
    code: p.code,
    label: SHORT[p.code] || p.code.slice(3),
    column: p.column,
    row: p.row,
    value: p[metric],
    title: `${p.name} (${p.code}): ${int(p.payments)} payments, ${money(p.volume, data.currency)}, ${int(p.merchants)} merchants`,
  }));
  const top = Math.max(...data.prefectures.map((p) => p[metric]), 0);
  const withPayments = data.prefectures.filter((p) => p.payments > 0).length;
  const sorted = [...data.prefectures].sort((a, b) => b.volume - a.volume || a.code.localeCompare(b.code));
  const switcher = h(
    "div",
    { class: "actions" },
    "Colour by:",
    h("a", { href: "#/prefectures", class: metric === "volume" ? "badge" : null }, "volume (JPY)"),
    h("a", { href: "#/prefectures?by=payments", class: metric === "payments" ? "badge" : null }, "payments"),
  );
  fill(root,
    h("h1", {}, "Prefectures"),
    h(
      "div",
      { class: "grid" },
      panel(
        "Japan, one tile per prefecture",
        h("p", { class: "note" }, `${withPayments} of 47 prefectures have committed payments. Click a tile for its payments.`),
        switcher,
        h("div", { id: "prefecture-map" }, tileMap(tiles, { columns: data.columns, rows: data.rows, onClick: (t) => open(t.code) })),
        scaleLegend(top, format),
      ),
      panel(
        "All 47 prefectures",
        table(
          [
            { label: "Code", value: (p) => p.code },
            { label: "Prefecture", value: (p) => p.name },
            { label: "Merchants", value: (p) => int(p.merchants), num: true },
            { label: "Payments", value: (p) => int(p.payments), num: true },
            { label: "Volume", value: (p) => money(p.volume, data.currency), num: true },
            { label: "Share", value: (p) => `${p.share_percent}%`, num: true },
          ],
          sorted,
          { onRow: (p) => open(p.code), rowId: (p) => p.code },
        ),
      ),
      data.abroad.length
        ? panel(
            "Merchants abroad (Japanese visitors to China and Korea)",
            table(
              [
                { label: "Region", value: (r) => `${r.name} (${r.code})` },
                { label: "Merchants", value: (r) => int(r.merchants), num: true },
                { label: "Payments", value: (r) => int(r.payments), num: true },
                { label: "Volume", value: (r) => money(r.volume, r.currency), num: true },
              ],
              data.abroad,
              { onRow: (r) => open(r.code) },
            ),
          )
        : null,
    ),
  );
}
