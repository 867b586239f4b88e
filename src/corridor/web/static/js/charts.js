// Charts as inline SVG, drawn here: horizontal bars, stacked columns and a tile map.
//
// Amounts in different currencies are never drawn on one scale: bar charts take a `group`
// per row (a currency, say) and scale each group on its own.

import { h, s } from "./dom.js";

export const PALETTE = [
  "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
  "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
];
export const SEQUENTIAL = ["#eef3f8", "#c6dbef", "#9ecae1", "#6baed6", "#3182bd", "#08519c"];

const ROW_H = 22;
const GROUP_H = 22;

function big(value) {
  return typeof value === "bigint" ? Number(value) : Number(value || 0);
}

/**
 * Horizontal bars. rows: [{label, value, text, group, title}]; each group has its own scale
 * (or `max` for all). The bar's text (an exact amount) is printed beside it.
 */
export function barChart(rows, { width = 560, labelWidth = 170, max = null, color = PALETTE[0], colors = null } = {}) {
  const groups = [];
  for (const row of rows) {
    const name = row.group ?? "";
    let found = groups.find((g) => g.name === name);
    if (!found) {
      found = { name, rows: [] };
      groups.push(found);
    }
    found.rows.push(row);
  }
  const showGroups = groups.length > 1 || (groups[0] && groups[0].name);
  let height = 4;
  for (const g of groups) height += g.rows.length * ROW_H + (showGroups ? GROUP_H : 0);
  // Room for the longest value text (about 6 px a character at 11 px), within reason.
  const longest = Math.max(...rows.map((r) => String(r.text ?? r.value).length), 4);
  const barSpace = Math.max(80, width - labelWidth - Math.min(width * 0.5, longest * 6.2 + 12));
  const svg = s("svg", {
    class: "chart bars",
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": "bar chart",
  });
  let y = 2;
  let index = 0;
  for (const g of groups) {
    if (showGroups) {
      svg.append(s("text", { x: 0, y: y + 15, class: "muted", "font-weight": "600" }, g.name));
      y += GROUP_H;
    }
    const top = max ?? Math.max(...g.rows.map((r) => big(r.value)), 0);
    for (const row of g.rows) {
      const value = big(row.value);
      const length = top > 0 ? Math.max(value > 0 ? 1 : 0, (value / top) * barSpace) : 0;
      const fill = colors ? colors[index % colors.length] : row.color || color;
      const bar = s("rect", {
        x: labelWidth,
        y: y + 4,
        width: length.toFixed(1),
        height: ROW_H - 8,
        fill,
        rx: 2,
        class: "bar",
        "data-value": String(row.value),
      });
      bar.append(s("title", {}, row.title || `${row.label}: ${row.text ?? row.value}`));
      svg.append(
        s("text", { x: labelWidth - 6, y: y + 15, "text-anchor": "end" }, truncate(row.label, 28)),
        s("line", { x1: labelWidth, x2: labelWidth, y1: y, y2: y + ROW_H, class: "axis" }),
        bar,
        s("text", { x: labelWidth + length + 6, y: y + 15, class: "muted" }, row.text ?? String(row.value)),
      );
      y += ROW_H;
      index += 1;
    }
  }
  return svg;
}

function truncate(text, length) {
  const value = String(text ?? "");
  return value.length > length ? `${value.slice(0, length - 1)}…` : value;
}

function niceTop(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * power >= value) return step * power;
  }
  return 10 * power;
}

/**
 * Stacked columns: categories along x (days), one stacked segment per series.
 * series: [{name, values: [number per category]}].
 */
export function stackedColumns(categories, series, { width = 560, height = 240, unit = "" } = {}) {
  const left = 48;
  const bottom = 34;
  const plotW = width - left - 8;
  const plotH = height - bottom - 10;
  const totals = categories.map((_, i) => series.reduce((sum, one) => sum + big(one.values[i]), 0));
  const top = niceTop(Math.max(...totals, 0));
  const svg = s("svg", {
    class: "chart columns",
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": "stacked column chart",
  });
  for (let tick = 0; tick <= 4; tick += 1) {
    const value = (top * tick) / 4;
    const y = 10 + plotH - (plotH * tick) / 4;
    svg.append(
      s("line", { x1: left, x2: width - 8, y1: y, y2: y, class: "axis" }),
      s("text", { x: left - 6, y: y + 4, "text-anchor": "end", class: "muted" }, formatTick(value)),
    );
  }
  const slot = categories.length ? plotW / categories.length : plotW;
  const barW = Math.max(2, Math.min(48, slot * 0.7));
  categories.forEach((category, i) => {
    const x = left + slot * i + (slot - barW) / 2;
    let y = 10 + plotH;
    series.forEach((one, k) => {
      const value = big(one.values[i]);
      if (value <= 0) return;
      const segment = (value / top) * plotH;
      y -= segment;
      const rect = s("rect", {
        x: x.toFixed(1),
        y: y.toFixed(1),
        width: barW.toFixed(1),
        height: segment.toFixed(1),
        fill: PALETTE[k % PALETTE.length],
        class: "bar",
        "data-value": String(value),
      });
      rect.append(s("title", {}, `${category} · ${one.name}: ${value}${unit}`));
      svg.append(rect);
    });
    const every = Math.ceil(categories.length / 10);
    if (i % every === 0) {
      svg.append(
        s("text", { x: (x + barW / 2).toFixed(1), y: height - 18, "text-anchor": "middle", class: "muted" }, shortDay(category)),
      );
    }
  });
  return h("figure", { class: "chart-figure" }, svg, legend(series.map((one) => one.name)));
}

function shortDay(text) {
  return /^\d{4}-\d{2}-\d{2}$/.test(text) ? text.slice(5) : text;
}

function formatTick(value) {
  if (value >= 1e9) return `${+(value / 1e9).toFixed(1)}G`;
  if (value >= 1e6) return `${+(value / 1e6).toFixed(1)}M`;
  if (value >= 1e3) return `${+(value / 1e3).toFixed(1)}k`;
  return String(+value.toFixed(2));
}

export function legend(names, swatchClass = (i) => `sw-${i % 10}`) {
  return h(
    "div",
    { class: "legend" },
    names.map((name, i) => h("span", {}, h("span", { class: `swatch ${swatchClass(i)}` }), name)),
  );
}

/**
 * A tile map: tiles [{code, label, column, row, value, title}] on a columns × rows grid,
 * coloured in six steps from zero to the largest value.
 */
export function tileMap(tiles, { columns, rows, size = 46, onClick = null } = {}) {
  const gap = 3;
  const width = columns * (size + gap);
  const height = rows * (size + gap);
  const top = Math.max(...tiles.map((t) => big(t.value)), 0);
  const svg = s("svg", {
    class: "chart tiles",
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": "prefecture tile map",
  });
  for (const tile of tiles) {
    const step = bucket(big(tile.value), top);
    const x = tile.column * (size + gap);
    const y = tile.row * (size + gap);
    const group = s("g", {
      class: "tile-group",
      "data-code": tile.code,
      "data-step": String(step),
      tabindex: onClick ? 0 : null,
      onclick: onClick ? () => onClick(tile) : null,
      onkeydown: onClick ? (event) => event.key === "Enter" && onClick(tile) : null,
    });
    const rect = s("rect", { x, y, width: size, height: size, rx: 4, fill: SEQUENTIAL[step], class: "tile" });
    rect.append(s("title", {}, tile.title));
    group.append(
      rect,
      s(
        "text",
        {
          x: x + size / 2,
          y: y + size / 2 + 4,
          "text-anchor": "middle",
          class: step >= 4 ? "tile-label light" : "tile-label",
        },
        tile.label,
      ),
    );
    svg.append(group);
  }
  return svg;
}

/**
 * 0 for nothing, then 1..5 on a square-root scale of the largest value: volumes per
 * prefecture are long-tailed (Tokyo and Osaka dwarf the rest), and a linear scale would
 * paint almost every prefecture the same.
 */
export function bucket(value, top) {
  if (!(value > 0) || !(top > 0)) return 0;
  return Math.min(5, Math.max(1, Math.ceil(Math.sqrt(value / top) * 5)));
}

/** The largest value of bucket `step` (1..5) for `top`. */
export function bucketTop(step, top) {
  return Math.ceil(top * (step / 5) ** 2);
}
