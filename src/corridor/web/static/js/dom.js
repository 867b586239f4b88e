// DOM and formatting helpers. Text always goes in as text (never as HTML), so names from
// the database cannot inject markup; the page's Content-Security-Policy forbids inline
// script on top of that.

const SVG_NS = "http://www.w3.org/2000/svg";

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function setAttributes(node, attributes) {
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(node.dataset, value);
    } else {
      node.setAttribute(name, value === true ? "" : String(value));
    }
  }
}

/** An HTML element: h("td", {class: "num"}, "42"). */
export function h(tag, attributes, ...children) {
  const node = document.createElement(tag);
  setAttributes(node, attributes);
  return append(node, children);
}

/** An SVG element. */
export function s(tag, attributes, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  setAttributes(node, attributes);
  return append(node, children);
}

/** Append children to an existing node (null, undefined and false are skipped). */
export function fill(node, ...children) {
  return append(node, children);
}

export function clear(node) {
  while (node.firstChild) node.firstChild.remove();
  return node;
}

export function panel(title, ...children) {
  return h("section", { class: "panel" }, title ? h("h2", {}, title) : null, ...children);
}

export function badge(text, kind) {
  return h("span", { class: `badge ${kind || text}` }, text);
}

export function empty(text) {
  return h("p", { class: "empty" }, text);
}

/** A table from column specs [{label, value: row => node|text, num}] and rows. */
export function table(columns, rows, { onRow, rowId } = {}) {
  const head = h("tr", {}, columns.map((c) => h("th", { class: c.num ? "num" : null }, c.label)));
  const body = rows.map((row) =>
    h(
      "tr",
      {
        class: onRow ? "clickable" : null,
        onclick: onRow ? () => onRow(row) : null,
        dataset: rowId ? { id: rowId(row) } : undefined,
      },
      columns.map((c) => h("td", { class: c.num ? "num" : null }, c.value(row))),
    ),
  );
  return h("div", { class: "table-wrap" }, h("table", {}, h("thead", {}, head), h("tbody", {}, body)));
}

export function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.filter(Boolean).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

// -- numbers, money and time ----------------------------------------------------------------

const MINOR_UNITS = { CNY: 2, JPY: 0, KRW: 0, USD: 2, EUR: 2 };

export function group(digits) {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

export function int(value) {
  return value === null || value === undefined ? "–" : group(String(value));
}

/** Minor units of `currency` as exact decimal text with grouping: money(22708, "CNY"). */
export function money(minor, currency) {
  if (minor === null || minor === undefined) return "–";
  const digits = MINOR_UNITS[currency] ?? 2;
  let text = BigInt(minor).toString();
  const negative = text.startsWith("-");
  if (negative) text = text.slice(1);
  let whole = text;
  let fraction = "";
  if (digits > 0) {
    text = text.padStart(digits + 1, "0");
    whole = text.slice(0, -digits);
    fraction = `.${text.slice(-digits)}`;
  }
  return `${currency ? `${currency} ` : ""}${negative ? "-" : ""}${group(whole)}${fraction}`;
}

/** A MoneyOut of the API ({amount, currency, minor}). */
export function moneyOut(value) {
  return value ? money(value.minor, value.currency) : "–";
}

export function percent(ratio) {
  return ratio === null || ratio === undefined ? "–" : `${(ratio * 100).toFixed(1)}%`;
}

const JST = new Intl.DateTimeFormat("en-CA", {
  timeZone: "Asia/Tokyo",
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hour12: false,
});

function jst(date) {
  const parts = Object.fromEntries(JST.formatToParts(date).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second} JST`;
}

/** Nanoseconds since the epoch (a JSON number, so a few hundred ns off) as a time in Japan. */
export function timeNs(ns) {
  return ns === null || ns === undefined ? "–" : jst(new Date(Math.floor(ns / 1e6)));
}

export function timeS(seconds) {
  return seconds === null || seconds === undefined ? "–" : jst(new Date(seconds * 1000));
}

export function short(id, length = 12) {
  return id && id.length > length ? `${id.slice(0, length)}…` : id;
}

/** Offer `blobValue` as a file download named `name`. */
export function download(blobValue, name) {
  const url = URL.createObjectURL(blobValue);
  const link = h("a", { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
