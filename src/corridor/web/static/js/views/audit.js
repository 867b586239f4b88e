// The audit log: its key, the latest signed checkpoint (its signature and cosignatures
// checked here in the browser), each witness's status and the checkpoints signed so far.

import { ApiProblem, api, post } from "../api.js";
import { badge, empty, facts, fill, h, int, panel, short, table, timeS } from "../dom.js";
import { cosigners, openCheckpoint, parseVerifierKey } from "../verify.js";

async function checkLatest(latest, audit) {
  try {
    const logKey = await parseVerifierKey(audit.vkey, 0x01);
    const checkpoint = await openCheckpoint(latest.note, logKey, audit.origin);
    const witnessKeys = [];
    for (const w of audit.witnesses) witnessKeys.push(await parseVerifierKey(w.vkey, 0x04));
    const names = await cosigners(checkpoint, witnessKeys);
    const witnessed = witnessKeys.length > 0 && names.length >= audit.quorum;
    return h(
      "div",
      { class: `verdict ${witnessed ? "good" : "pending"}`, id: "checkpoint-verdict", dataset: { ok: "true", witnessed: String(witnessed) } },
      `Checkpoint of size ${int(checkpoint.size)} signed by ${logKey.name} (verified in this browser); ` +
        `cosigned by ${names.length} of ${witnessKeys.length} witnesses (${names.join(", ") || "none"}), quorum ${audit.quorum}: ` +
        (witnessed ? "witnessed" : "not witnessed yet"),
    );
  } catch (error) {
    return h("div", { class: "verdict bad", id: "checkpoint-verdict", dataset: { ok: "false" } }, `Checkpoint does not verify: ${error.code || ""} ${error.message}`);
  }
}

export async function render(root, context) {
  const audit = await api("/v1/dashboard/audit");
  let latest = null;
  try {
    latest = await api("/v1/audit/checkpoint");
  } catch (error) {
    if (!(error instanceof ApiProblem) || error.code !== "not_checkpointed") throw error;
  }
  const sign = context.me.actions.includes("sign_checkpoints") ? h("button", { type: "button", id: "sign-checkpoint" }, "Sign a checkpoint now") : null;
  if (sign) {
    sign.addEventListener("click", async () => {
      sign.disabled = true;
      try {
        const made = await post("/v1/audit/checkpoints");
        await context.refresh();
        context.flash(made.new ? `Signed a checkpoint of size ${made.size}.` : `The log is already checkpointed at size ${made.size}.`);
      } catch (error) {
        sign.disabled = false;
        context.flash(`${error.code}: ${error.message}`, true);
      }
    });
  }
  const unsigned = latest ? audit.log_size - latest.size : audit.log_size;
  fill(root,
    h("h1", {}, "Audit log"),
    h(
      "div",
      { class: "grid" },
      panel(
        "Log",
        facts([
          ["Origin", audit.origin],
          ["Verifier key", h("span", { class: "mono" }, audit.vkey)],
          ["Leaves", int(audit.log_size)],
          ["Checkpoints", int(audit.checkpoint_count)],
          ["Leaves after the latest checkpoint", int(unsigned)],
          ["Witness quorum", `${audit.quorum} of ${audit.witnesses.length}`],
        ]),
        h("div", { class: "actions" }, sign),
      ),
      panel(
        "Latest checkpoint",
        latest ? await checkLatest(latest, audit) : empty("No checkpoint is signed yet."),
        latest ? h("pre", { id: "checkpoint-note" }, latest.note) : null,
      ),
      panel(
        "Witnesses",
        audit.witnesses.length
          ? table(
              [
                { label: "Witness", value: (w) => w.name },
                { label: "Last cosigned size", value: (w) => (w.last_cosigned_size === null ? "never" : int(w.last_cosigned_size)), num: true },
                { label: "Latest checkpoint", value: (w) => (w.cosigned_latest ? badge("cosigned", "good") : badge("not cosigned", "warn")) },
                { label: "Key", value: (w) => h("span", { class: "mono" }, w.vkey) },
              ],
              audit.witnesses,
              { rowId: (w) => w.name },
            )
          : empty("No witness is registered: checkpoints cannot be witnessed (corridor audit witnesses add)."),
      ),
      panel(
        "Checkpoints (newest first)",
        audit.checkpoints.length
          ? table(
              [
                { label: "Size", value: (c) => int(c.size), num: true },
                { label: "Signed", value: (c) => timeS(c.created) },
                { label: "Root", value: (c) => h("span", { class: "mono", title: c.root }, short(c.root, 16)) },
                { label: "Cosigners", value: (c) => c.cosigners.join(", ") || "–" },
                { label: "", value: (c) => (c.witnessed ? badge("witnessed", "good") : badge("not witnessed", "warn")) },
              ],
              audit.checkpoints,
              { rowId: (c) => String(c.size) },
            )
          : empty("No checkpoint yet."),
      ),
    ),
  );
}
