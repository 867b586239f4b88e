// The dashboard's shell: login, navigation by role, and a hash router over the views.
//
// Routes: #/overview, #/prefectures, #/payments?…, #/payment/ID, #/cases?…, #/case/ID,
// #/settlement?window=ID, #/audit, #/detection. Each view is an ES module exporting
// `render(root, context)`; the context carries the key's identity (`me`), the route's
// parameters, `navigate(hash)` and `flash(text, isError)`.

import { ApiProblem, api, forgetKey, storeKey, storedKey } from "./api.js";
import { clear, h } from "./dom.js";

const VIEWS = {
  overview: { title: "Overview", module: "./views/overview.js" },
  prefectures: { title: "Prefectures", module: "./views/prefectures.js" },
  payments: { title: "Payments", module: "./views/payments.js" },
  payment: { title: "Payment", module: "./views/payment.js", nav: false, needs: "payments" },
  cases: { title: "Cases", module: "./views/cases.js" },
  case: { title: "Case", module: "./views/case.js", nav: false, needs: "cases" },
  settlement: { title: "Settlement", module: "./views/settlement.js" },
  audit: { title: "Audit", module: "./views/audit.js" },
  detection: { title: "Detection", module: "./views/detection.js" },
};

const $ = (id) => document.getElementById(id);
let me = null;
let renderCount = 0;

function parseHash() {
  const text = location.hash.replace(/^#\/?/, "");
  const [path, search = ""] = text.split("?");
  const [name = "", ...rest] = path.split("/").map(decodeURIComponent);
  return { name: name || "overview", args: rest, params: new URLSearchParams(search) };
}

export function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

export function flash(text, isError = false) {
  const box = $("flash");
  box.textContent = text;
  box.classList.toggle("error", isError);
  box.hidden = !text;
}

function showLogin(message) {
  me = null;
  $("login").hidden = false;
  $("nav").hidden = true;
  $("who").hidden = true;
  clear($("view"));
  flash("");
  const error = $("login-error");
  error.textContent = message || "";
  error.hidden = !message;
  $("api-key").focus();
}

function buildNav() {
  const nav = clear($("nav"));
  for (const name of me.views) {
    const view = VIEWS[name];
    if (!view || view.nav === false) continue;
    nav.append(h("a", { href: `#/${name}`, dataset: { view: name } }, view.title));
  }
  nav.hidden = false;
  const who = me.participant_id ? `${me.role} · ${me.participant_name || me.participant_id}` : me.role;
  $("who-label").textContent = `${who} · key ${me.key_id}`;
  $("who").hidden = false;
  document.body.dataset.role = me.role;
}

async function login(key) {
  storeKey(key);
  try {
    me = await api("/v1/dashboard/me");
  } catch (error) {
    forgetKey();
    showLogin(error instanceof ApiProblem && error.status === 401 ? "That key is not an active API key." : `Cannot log in: ${error.message}`);
    return;
  }
  $("login").hidden = true;
  buildNav();
  route();
}

async function route() {
  if (!me) return;
  const { name, args, params } = parseHash();
  const view = VIEWS[name];
  const allowed = view && me.views.includes(view.needs || name);
  for (const link of $("nav").querySelectorAll("a")) {
    link.classList.toggle("active", link.dataset.view === (view?.needs || name));
  }
  flash("");
  const root = clear($("view"));
  const mine = ++renderCount;
  // Tests (and curious users) can tell a finished render from a stale one by its number.
  root.dataset.ready = "false";
  root.dataset.render = String(mine);
  root.dataset.view = name;
  if (!allowed) {
    root.append(h("p", { class: "error" }, view ? `A ${me.role} key cannot open ${view.title}.` : `No view ${name}.`));
    root.dataset.ready = "true";
    return;
  }
  document.title = `${view.title} · corridor`;
  root.append(h("p", { class: "muted" }, "Loading…"));
  try {
    const module = await import(view.module);
    const target = h("div", { class: "view-body" });
    await module.render(target, { me, args, params, navigate, flash, refresh: route });
    if (mine !== renderCount) return; // another route started meanwhile
    clear(root).append(target);
  } catch (error) {
    if (mine !== renderCount) return;
    clear(root).append(h("p", { class: "error" }, error instanceof ApiProblem ? `${error.code}: ${error.message}` : String(error)));
  }
  if (mine === renderCount) root.dataset.ready = "true";
}

window.addEventListener("hashchange", route);
window.addEventListener("corridor:unauthenticated", () => {
  forgetKey();
  showLogin("The key was refused (revoked or expired); log in again.");
});

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const key = $("api-key").value.trim();
  $("api-key").value = "";
  if (key) login(key);
});

$("logout").addEventListener("click", () => {
  forgetKey();
  showLogin("");
});

const saved = storedKey();
if (saved) login(saved);
else showLogin("");
