// Settings tab "Model & hardware": this machine, the load plan, autostart, the draft hotkey
// and the local models.
import { Channel } from "@tauri-apps/api/core";
import { commands } from "../bindings";
import type { StreamEvent } from "../bindings";
import { h, ok } from "../lib";
import { settingsPage } from "./index";

export async function modelTab(body: HTMLElement) {
  const s = await ok(commands.settings());
  const hw = s.hardware;
  body.append(
    h("h3", {}, "This machine"),
    h("p", {}, `${hw.cpu} · ${hw.cores} cores · ${hw.ram_gb.toFixed(1)} GB RAM${hw.gpus.length ? ` · ${hw.gpus.join(", ")}` : " · no GPU"}`),
    h("h3", {}, "Model and load plan"),
    hw.model
      ? h("p", {}, `${hw.model} · context ${hw.context} tokens · ${hw.threads} threads`)
      : h("p", { class: "muted" }, hw.problem ?? "no model"),
    h("ul", {}, ...hw.plan.map((line) => h("li", {}, line))),
    h("p", { class: "muted" }, `Config: ${s.config_file} · Ledger: ${s.ledger_file}`),
    await autostartToggle(),
    hotkeyRow(s.hotkey),
    h("h3", {}, "Models"),
    await modelsTable(),
  );
}

/** The catalog, one table per kind: the language models, then speech and embedding models. */
async function modelsTable(): Promise<HTMLElement> {
  const list = await ok(commands.models());
  const bar = h("progress", { hidden: true });
  const pull = async (name: string) => {
    const channel = new Channel<StreamEvent>();
    bar.hidden = false;
    channel.onmessage = (e) => { if (e.kind === "progress" && e.total > 0) { bar.max = e.total; bar.value = e.done; bar.title = `${e.text} ${e.done} of ${e.total} MB`; } };
    try {
      await ok(commands.pullModel(name, channel));
      await settingsPage("model");
    } finally {
      bar.hidden = true;
    }
  };
  const table = (id: string, kind: string) =>
    h(
      "table",
      { id },
      h("tr", {}, h("th", {}, "Model"), h("th", { class: "num" }, "Size"), h("th", {}, "Fits?"), h("th", {}, "")),
      ...list.filter((m) => m.kind === kind).map((m) =>
        h(
          "tr",
          { title: m.reason },
          h("td", {}, m.display, m.recommended ? " (recommended)" : ""),
          h("td", { class: "num" }, m.size_gb < 1 ? `${Math.round(m.size_gb * 1000)} MB` : `${m.size_gb.toFixed(2)} GB`),
          h("td", {}, m.reason),
          h(
            "td",
            {},
            m.in_use
              ? "in use"
              : m.installed
                ? h("button", { onclick: async () => { await ok(commands.useModel(m.name)); await settingsPage("model"); } }, "Use")
                : m.made_by_setup
                  ? h("span", { class: "muted", title: "converted from PyPI by Frugal's set-up script, not downloadable" }, "made by scripts/setup.sh")
                  : h("button", { disabled: !m.fits, onclick: () => pull(m.name) }, "Download"),
          ),
        ),
      ),
    );
  return h(
    "div",
    {},
    bar,
    table("models", "llm"),
    h("h3", {}, "Speech models (recordings)"),
    table("models-speech", "speech"),
    h("h3", {}, "Embedding models (search by meaning)"),
    h("p", { class: "muted" }, "Another embedding model embeds every passage again in the background; keyword search works meanwhile."),
    table("models-embedding", "embedding"),
  );
}

/** Shows a shortcut the way menus do: Ctrl+Shift+Space, Ctrl+Alt+D. */
const prettyHotkey = (k: string) => k.replace(/CmdOrCtrl|CommandOrControl/g, "Ctrl").replace(/Key([A-Z])/g, "$1").replace(/Digit(\d)/g, "$1");

/** The draft hotkey: press the new combination in the box, then Save. */
function hotkeyRow(current: string): HTMLElement {
  const box = h("input", { id: "hotkey", value: prettyHotkey(current), size: 22, readOnly: true, title: "Click, then press the new shortcut" });
  let recorded: string | null = null;
  box.addEventListener("keydown", (e: KeyboardEvent) => {
    e.preventDefault();
    if (["Control", "Shift", "Alt", "Meta"].includes(e.key)) return;
    const mods = [e.ctrlKey && "Ctrl", e.altKey && "Alt", e.shiftKey && "Shift", e.metaKey && "Super"].filter(Boolean);
    recorded = [...mods, e.code].join("+");
    box.value = prettyHotkey(recorded);
  });
  const saved = h("span", { id: "hotkey-saved", class: "muted" });
  const save = async (value: string | null) => {
    const s = await ok(commands.setHotkey(value));
    box.value = prettyHotkey(s.hotkey);
    saved.textContent = `Saved: ${prettyHotkey(s.hotkey)} drafts from the selection or the clipboard`;
  };
  return h(
    "div",
    { class: "row" },
    "Draft hotkey",
    box,
    h("button", { id: "hotkey-save", onclick: () => save(recorded ?? box.value) }, "Save"),
    h("button", { onclick: () => save(null) }, "Default"),
    saved,
  );
}

async function autostartToggle(): Promise<HTMLElement> {
  const r = await commands.autostart(null);
  const box = h("input", { type: "checkbox", id: "autostart", checked: r.status === "ok" && r.data });
  box.addEventListener("change", async () => {
    box.checked = await ok(commands.autostart(box.checked));
  });
  return h("p", {}, h("label", {}, box, " Start Frugal at login"), r.status === "error" ? h("span", { class: "muted" }, ` (${r.error.message})`) : "");
}
