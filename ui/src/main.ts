// The web UI of Frugal's tray app. One page, routed by the window's hash (#settings, #draft,
// #ask, #summary). It talks to the app only through `bindings.ts`, generated from the Rust
// command types — no hand-written invoke strings.
import "./style.css";
import { Channel } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import { getCurrentWebview } from "@tauri-apps/api/webview";
import { Chart, BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip } from "chart.js";
import { commands } from "./bindings";
import type { CommandError, Result, RouteView, SpendView, StreamEvent } from "./bindings";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

const app = document.getElementById("app") as HTMLElement;
const errorBox = document.getElementById("error") as HTMLElement;

/** Unwraps a command result; a failure shows core's one-line message and stops the caller. */
async function ok<T>(p: Promise<Result<T, CommandError>>): Promise<T> {
  const r = await p;
  if (r.status === "error") {
    showError(r.error.message);
    throw new Error(r.error.message);
  }
  errorBox.hidden = true;
  return r.data;
}

function showError(message: string) {
  errorBox.textContent = message;
  errorBox.hidden = false;
}

/** Builds an element: h("button", { class: "primary", onclick }, "Save"). */
function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Record<string, unknown> = {},
  ...children: (Node | string | null | undefined | false)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v as EventListener);
    else if (k in el && k !== "list") (el as unknown as Record<string, unknown>)[k] = v;
    else el.setAttribute(k, String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

const usd = (v: number | null | undefined) =>
  v === null || v === undefined ? "—" : v !== 0 && Math.abs(v) < 0.01 ? `$${v.toFixed(4)}` : `$${v.toFixed(2)}`;

function routeLine(r: RouteView): string {
  if (r.route === "cloud") {
    return `${r.provider} (${r.model}) · ${usd(r.cost_usd)}${r.escalated ? ` · escalated: ${r.escalated}` : ""}${r.note ? ` · ${r.note}` : ""}`;
  }
  return `local${r.model ? ` (${r.model})` : ""} · $0${r.note ? ` · ${r.note}` : ""}`;
}

async function refreshStatus() {
  const r = await commands.appStatus();
  const el = document.getElementById("status") as HTMLElement;
  el.textContent = r.status === "ok" ? `${r.data.tray_label} · ${r.data.model ?? "no local model"}` : r.error.message;
}

function copy(text: string) {
  navigator.clipboard?.writeText(text).catch(() => {
    const t = h("textarea", { value: text });
    document.body.append(t);
    t.select();
    document.execCommand("copy");
    t.remove();
  });
}

// ---------------------------------------------------------------- settings

type Tab = "model" | "folders" | "providers" | "budget" | "spend";
const TABS: [Tab, string][] = [
  ["model", "Model & hardware"],
  ["folders", "Folders"],
  ["providers", "Providers"],
  ["budget", "Budget"],
  ["spend", "Spend review"],
];

/** Marks the page busy while it renders (the end-to-end tests wait for it to settle). */
async function rendering(work: () => Promise<void>) {
  document.body.dataset.busy = String(Number(document.body.dataset.busy ?? "0") + 1);
  try {
    await work();
  } finally {
    document.body.dataset.busy = String(Number(document.body.dataset.busy ?? "1") - 1);
  }
}

async function settingsPage(tab: Tab) {
  await rendering(() => renderSettings(tab));
}

async function renderSettings(tab: Tab) {
  const body = h("section", { id: `tab-${tab}` });
  const nav = h(
    "nav",
    { class: "tabs" },
    ...TABS.map(([t, label]) =>
      h("button", { id: `tab-button-${t}`, "aria-selected": String(t === tab), onclick: () => settingsPage(t) }, label),
    ),
  );
  app.replaceChildren(nav, body);
  const render = { model: modelTab, folders: foldersTab, providers: providersTab, budget: budgetTab, spend: spendTab }[tab];
  await render(body);
}

async function modelTab(body: HTMLElement) {
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
  return h(
    "div",
    {},
    bar,
    h(
      "table",
      { id: "models" },
      h("tr", {}, h("th", {}, "Model"), h("th", { class: "num" }, "Size"), h("th", {}, "Fits?"), h("th", {}, "")),
      ...list.map((m) =>
        h(
          "tr",
          { title: m.reason },
          h("td", {}, m.display, m.recommended ? " (recommended)" : ""),
          h("td", { class: "num" }, `${m.size_gb.toFixed(2)} GB`),
          h("td", {}, m.reason),
          h(
            "td",
            {},
            m.in_use
              ? "in use"
              : m.installed
                ? h("button", { onclick: async () => { await ok(commands.useModel(m.name)); await settingsPage("model"); } }, "Use")
                : h("button", { disabled: !m.fits, onclick: () => pull(m.name) }, "Download"),
          ),
        ),
      ),
    ),
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

/** When the watcher last applied a batch (shown in the Folders tab). */
let lastIndexUpdate: Date | null = null;

async function foldersTab(body: HTMLElement) {
  const idx = await ok(commands.indexStatus());
  const settings = await ok(commands.settings());
  const localOnly = h("input", { type: "checkbox", id: "local-only" });
  const path = h("input", { id: "folder-path", placeholder: "/path/to/folder", size: 40 });
  const bar = h("progress", { id: "index-progress", hidden: true });
  const add = async () => {
    if (!path.value.trim()) {
      const picked = await ok(commands.pickFolder());
      if (!picked) return;
      path.value = picked;
    }
    const channel = new Channel<StreamEvent>();
    bar.hidden = false;
    channel.onmessage = (e) => {
      if (e.kind === "progress" && e.total > 0) {
        bar.max = e.total;
        bar.value = e.done;
      }
    };
    try {
      await ok(commands.addFolder(path.value.trim(), localOnly.checked, channel));
      await settingsPage("folders");
    } finally {
      bar.hidden = true;
    }
  };
  body.append(
    h("div", { class: "row" }, path, h("label", {}, localOnly, " local-only (never sent to a cloud)"), h("button", { class: "primary", id: "add-folder", onclick: add }, "Add folder")),
    bar,
    h(
      "div",
      { class: "row" },
      h("span", { id: "index-totals" }, `${idx.files} files · ${idx.passages} passages`),
      h("span", { class: "muted", id: "index-watch" }, idx.paused ? "· paused" : idx.folders.length ? `· watching for changes${lastIndexUpdate ? `, updated ${lastIndexUpdate.toLocaleTimeString()}` : ""}` : ""),
      h("button", { id: "pause", onclick: async () => { await ok(commands.setPaused(!idx.paused)); await settingsPage("folders"); } }, idx.paused ? "Resume indexing" : "Pause indexing"),
    ),
    h(
      "table",
      { id: "folders" },
      h("tr", {}, h("th", {}, "Folder"), h("th", {}, "Local-only"), h("th", { class: "num" }, "Files"), h("th", { class: "num" }, "Passages"), h("th", {}, "")),
      ...idx.folders.map((f) =>
        h(
          "tr",
          {},
          h("td", {}, f.path, f.exists ? "" : " (missing)"),
          h("td", {}, f.local_only ? "yes" : "no"),
          h("td", { class: "num" }, String(f.files)),
          h("td", { class: "num" }, String(f.passages)),
          h("td", {}, h("button", { onclick: async () => { await ok(commands.removeFolder(f.path)); await settingsPage("folders"); } }, "Remove")),
        ),
      ),
    ),
    h("h3", {}, "Meetings folder"),
    h(
      "div",
      { class: "row" },
      h("span", { id: "meetings-folder" }, settings.meetings_folder ?? "none"),
      h("button", { onclick: async () => { const p = await ok(commands.pickFolder()); if (p) { await ok(commands.setMeetingsFolder(p)); await settingsPage("folders"); } } }, "Choose…"),
      settings.meetings_folder ? h("button", { onclick: async () => { await ok(commands.setMeetingsFolder(null)); await settingsPage("folders"); } }, "Stop") : "",
      h("span", { class: "muted" }, "New .vtt/.srt transcripts saved there are summarized on their own, next to each file."),
    ),
    idx.skipped.length ? h("h3", {}, `Skipped files (${idx.skipped.length})`) : "",
    idx.skipped.length
      ? h("table", {}, ...idx.skipped.slice(0, 200).map((k) => h("tr", {}, h("td", {}, k.path), h("td", {}, k.reason))))
      : "",
  );
}

/** Known providers: the form fills kind, address and a model with a list price. */
const PRESETS: { label: string; name: string; kind: string; base_url: string; model: string; tier: string; needs_key: boolean }[] = [
  { label: "OpenAI", name: "openai", kind: "openai", base_url: "https://api.openai.com/v1", model: "gpt-4o-mini", tier: "economy", needs_key: true },
  { label: "OpenAI (premium)", name: "openai-premium", kind: "openai", base_url: "https://api.openai.com/v1", model: "gpt-4.1", tier: "premium", needs_key: true },
  { label: "Anthropic", name: "anthropic", kind: "anthropic", base_url: "https://api.anthropic.com/v1", model: "claude-3-5-haiku-latest", tier: "economy", needs_key: true },
  { label: "Anthropic (premium)", name: "claude", kind: "anthropic", base_url: "https://api.anthropic.com/v1", model: "claude-sonnet-4-0", tier: "premium", needs_key: true },
  { label: "DeepSeek", name: "deepseek", kind: "openai", base_url: "https://api.deepseek.com/v1", model: "deepseek-chat", tier: "economy", needs_key: true },
  { label: "Groq", name: "groq", kind: "openai", base_url: "https://api.groq.com/openai/v1", model: "llama-3.1-8b-instant", tier: "economy", needs_key: true },
  { label: "Google Gemini", name: "gemini", kind: "openai", base_url: "https://generativelanguage.googleapis.com/v1beta/openai", model: "gemini-2.0-flash", tier: "economy", needs_key: true },
  { label: "OpenRouter", name: "openrouter", kind: "openai", base_url: "https://openrouter.ai/api/v1", model: "openai/gpt-4o-mini", tier: "economy", needs_key: true },
  { label: "Your own server (llama.cpp, Ollama, vLLM)", name: "house", kind: "openai", base_url: "http://127.0.0.1:8080/v1", model: "local-model", tier: "economy", needs_key: false },
  { label: "Other (OpenAI-compatible)", name: "", kind: "openai", base_url: "https://", model: "", tier: "economy", needs_key: true },
];

async function providersTab(body: HTMLElement) {
  const s = await ok(commands.settings());
  const price = (p: (typeof s.providers)[number]) =>
    p.price_in_usd !== null && p.price_out_usd !== null
      ? `$${p.price_in_usd} in · $${p.price_out_usd} out per M tokens`
      : h("span", { class: "warn", title: p.price_error ?? "" }, "no price: never called");
  body.append(
    h("p", { class: "muted" }, `A cloud model is asked only when a local answer is not good enough and the budget allows. Keys go to the OS keychain, never to a file. Config: ${s.config_file}`),
    h(
      "table",
      { id: "providers" },
      h("tr", {}, h("th", {}, "Name"), h("th", {}, "Model"), h("th", {}, "Tier"), h("th", {}, "Price"), h("th", {}, "Key"), h("th", {}, "")),
      ...s.providers.map((p) => {
        const key = h("input", { type: "password", placeholder: "paste key", autocomplete: "off", size: 14 });
        const test = h("button", { onclick: async () => { test.textContent = "testing…"; try { const r = await ok(commands.testProvider(p.name)); test.textContent = `OK (${usd(r.cost_usd)})`; await refreshStatus(); } catch { test.textContent = "Test connection"; } } }, "Test connection");
        return h(
          "tr",
          { class: "provider-row", title: `${p.kind} · ${p.base_url}` },
          h("td", {}, p.name),
          h("td", {}, p.model),
          h("td", {}, p.tier),
          h("td", {}, price(p)),
          h("td", {}, p.key ? `set (${p.key})` : p.needs_key ? p.key_error ?? "missing" : "not needed"),
          h(
            "td",
            {},
            p.needs_key ? key : "",
            p.needs_key ? h("button", { onclick: async () => { await ok(commands.setProviderKey(p.name, key.value)); key.value = ""; await settingsPage("providers"); } }, "Save key") : "",
            " ",
            test,
            " ",
            removeButton(p.name, p.needs_key),
          ),
        );
      }),
    ),
    h("h3", {}, "Add a provider"),
    addProviderForm(),
  );
}

/** Remove asks once more on the button itself (a web view's confirm() is not reliable). */
function removeButton(name: string, withKey: boolean): HTMLElement {
  let armed = false;
  const b = h("button", { class: "remove-provider" }, "Remove");
  b.addEventListener("click", async () => {
    if (!armed) {
      armed = true;
      b.textContent = withKey ? "Remove it and its key?" : "Remove it?";
      return;
    }
    await ok(commands.removeProvider(name));
    await settingsPage("providers");
  });
  return b;
}

function addProviderForm(): HTMLElement {
  const preset = h("select", { id: "provider-preset" }, ...PRESETS.map((p, i) => h("option", { value: String(i) }, p.label)));
  const field = (id: string, placeholder: string, size = 24) => h("input", { id, placeholder, size, autocomplete: "off" });
  const name = field("provider-name", "name (letters, digits, - or _)", 14);
  const url = field("provider-url", "https://api.example.com/v1", 36);
  const model = field("provider-model", "model id", 22);
  const kind = select(["openai", "anthropic"], "openai");
  const tier = select(["economy", "premium"], "economy");
  const key = h("input", { id: "provider-key", type: "password", placeholder: "API key (kept in the keychain)", autocomplete: "off", size: 28 });
  const needsKey = h("input", { type: "checkbox", id: "provider-needs-key", checked: true });
  const priceIn = h("input", { id: "provider-price-in", type: "number", min: "0", step: "0.01", placeholder: "list price", size: 8 });
  const priceOut = h("input", { id: "provider-price-out", type: "number", min: "0", step: "0.01", placeholder: "list price", size: 8 });
  const fill = () => {
    const p = PRESETS[Number(preset.value)];
    name.value = p.name;
    url.value = p.base_url;
    model.value = p.model;
    kind.value = p.kind;
    tier.value = p.tier;
    needsKey.checked = p.needs_key;
    key.disabled = !p.needs_key;
    priceIn.value = priceOut.value = p.needs_key ? "" : "0";
  };
  preset.addEventListener("change", fill);
  needsKey.addEventListener("change", () => { key.disabled = !needsKey.checked; });
  fill();
  const num = (el: HTMLInputElement) => (el.value.trim() === "" ? null : Number(el.value));
  const add = async () => {
    await ok(commands.addProvider({ name: name.value, kind: kind.value, base_url: url.value, model: model.value, tier: tier.value, needs_key: needsKey.checked, key: needsKey.checked ? key.value : "", price_in_usd: num(priceIn), price_out_usd: num(priceOut) }));
    key.value = "";
    await settingsPage("providers");
  };
  return h(
    "div",
    { class: "form", id: "add-provider-form" },
    h("div", { class: "row" }, preset, name, kind, tier),
    h("div", { class: "row" }, url, model),
    h("div", { class: "row" }, h("label", {}, needsKey, " needs a key"), key),
    h("div", { class: "row" }, "Price per million tokens: in $", priceIn, " out $", priceOut, h("span", { class: "muted" }, "leave empty when the model has a list price")),
    h("div", { class: "row" }, h("button", { class: "primary", id: "add-provider", onclick: add }, "Add provider")),
  );
}

async function budgetTab(body: HTMLElement) {
  const s = await ok(commands.settings());
  const status = await ok(commands.appStatus());
  const cap = h("input", { id: "budget-input", type: "number", min: "0", step: "0.5", value: String(s.budget.monthly_usd ?? "") });
  const saved = h("span", { id: "budget-saved", class: "muted" });
  body.append(
    h("h3", {}, "Monthly cloud budget"),
    h("p", { class: "muted" }, "Without a budget nothing is sent to a cloud model. Every request reserves its worst case first, so the cap can't be crossed."),
    h(
      "div",
      { class: "row" },
      "$",
      cap,
      h("button", { class: "primary", id: "budget-save", onclick: async () => { const st = await ok(commands.setBudget(Number(cap.value))); saved.textContent = `Saved · ${st.tray_label}`; await refreshStatus(); } }, "Save"),
      saved,
    ),
    h("p", {}, `This month: spent ${usd(status.spent_usd)}, ${usd(status.remaining_usd)} left.`),
    capsRow(s.budget.daily_usd, s.budget.per_request_usd),
    h("h3", {}, "Escalation policy"),
    h("p", { class: "muted" }, "Local first; a task goes to the cloud when its local answer fails its checks, can't fit, or you ask — never with text from a local-only folder."),
    h(
      "table",
      { id: "policies" },
      h("tr", {}, h("th", {}, "Task"), h("th", {}, "Escalate"), h("th", {}, "Up to")),
      ...s.policies.map((p) => {
        const escalate = select(["when_needed", "never", "always"], p.escalate);
        const tier = select(["economy", "premium"], p.max_tier);
        const save = () => ok(commands.setPolicy(p.task, escalate.value, tier.value));
        escalate.addEventListener("change", save);
        tier.addEventListener("change", save);
        return h("tr", {}, h("td", {}, p.task), h("td", {}, escalate), h("td", {}, tier));
      }),
    ),
  );
}

function select(options: string[], value: string): HTMLSelectElement {
  return h("select", {}, ...options.map((o) => h("option", { value: o, selected: o === value }, o.replace("_", " "))));
}

function capsRow(daily: number | null, perRequest: number | null): HTMLElement {
  const num = (v: number | null, id: string) => h("input", { id, type: "number", min: "0", step: "0.01", value: v === null ? "" : String(v), placeholder: "none", size: 6 });
  const d = num(daily, "daily-cap");
  const r = num(perRequest, "per-request-cap");
  const parse = (el: HTMLInputElement) => (el.value.trim() === "" ? null : Number(el.value));
  return h(
    "div",
    { class: "row" },
    "Daily cap $",
    d,
    "Per-request cap $",
    r,
    h("button", { onclick: async () => { await ok(commands.setCaps(parse(d), parse(r))); await refreshStatus(); } }, "Save caps"),
  );
}

let chart: Chart | null = null;

async function spendTab(body: HTMLElement, monthText?: string) {
  const s: SpendView = await ok(commands.spend(monthText ?? null));
  const picker = h("input", { type: "month", id: "month", value: s.month, onchange: () => { body.replaceChildren(); spendTab(body, picker.value); } });
  const card = (value: string, label: string, id?: string) => h("div", { class: "card", id }, h("b", {}, value), h("span", {}, label));
  const days = [...new Set(s.daily.map((d) => d.day))].sort();
  const providers = [...new Set(s.daily.map((d) => d.provider))];
  const canvas = h("canvas", { id: "daily-chart" });
  body.append(
    h("div", { class: "row" }, picker, h("button", { id: "export-csv", onclick: async () => { const p = await ok(commands.exportCsv(picker.value)); if (p) showError(`Saved ${p}`); } }, "Export CSV")),
    h(
      "div",
      { class: "cards" },
      card(usd(s.spent_usd), `spent of ${usd(s.cap_usd)}`, "spent"),
      card(usd(s.reserved_usd), "reserved now"),
      card(usd(s.remaining_usd), "left"),
      card(usd(s.projected_usd), "projected month end"),
      card(`${Math.round(s.local_share * 100)}%`, `local (${s.local_requests} of ${s.requests} requests)`, "local-share"),
      card(usd(s.saved_usd), `saved vs all-cloud (${usd(s.all_cloud_usd)})`),
      card(usd(s.cost_per_task_usd), `per completed task (${s.completed_runs})`),
    ),
    h("div", { class: "chart" }, canvas),
    h("h3", {}, "By task"),
    h(
      "table",
      { id: "by-task" },
      h("tr", {}, h("th", {}, "Task"), h("th", { class: "num" }, "Runs"), h("th", { class: "num" }, "Local"), h("th", { class: "num" }, "Cloud"), h("th", { class: "num" }, "Cost"), h("th", { class: "num" }, "Per task")),
      ...s.by_task.map((t) => h("tr", {}, h("td", {}, t.task), h("td", { class: "num" }, String(t.runs)), h("td", { class: "num" }, String(t.local_requests)), h("td", { class: "num" }, String(t.cloud_requests)), h("td", { class: "num" }, usd(t.cost_usd)), h("td", { class: "num" }, usd(t.cost_per_run_usd)))),
    ),
    h("h3", {}, "By model"),
    h(
      "table",
      { id: "by-model" },
      h("tr", {}, h("th", {}, "Route"), h("th", {}, "Provider"), h("th", {}, "Model"), h("th", { class: "num" }, "Requests"), h("th", { class: "num" }, "Cost")),
      ...s.by_provider.map((p) => h("tr", {}, h("td", {}, p.route), h("td", {}, p.provider), h("td", {}, p.model), h("td", { class: "num" }, String(p.requests)), h("td", { class: "num" }, usd(p.cost_usd)))),
    ),
    h("h3", {}, `Requests (${s.rows.length})`),
    h(
      "table",
      { id: "ledger-rows" },
      h("tr", {}, h("th", {}, "Time"), h("th", {}, "Task"), h("th", {}, "Route"), h("th", {}, "Model"), h("th", { class: "num" }, "Tokens in/out"), h("th", { class: "num" }, "Cost"), h("th", {}, "Outcome")),
      ...s.rows.slice(0, 300).map((r) => h("tr", { class: "ledger-row", title: r.escalation ?? "" }, h("td", {}, r.started_at.replace("T", " ").slice(0, 19)), h("td", {}, r.task), h("td", {}, r.route), h("td", {}, r.model), h("td", { class: "num" }, `${r.prompt_tokens}/${r.completion_tokens}`), h("td", { class: "num" }, usd(r.cost_usd)), h("td", {}, r.outcome))),
    ),
  );
  chart?.destroy();
  chart = new Chart(canvas, {
    type: "bar",
    data: {
      labels: days,
      datasets: providers.map((p, i) => ({
        label: p,
        data: days.map((d) => s.daily.filter((x) => x.day === d && x.provider === p).reduce((a, x) => a + x.cost_usd, 0)),
        backgroundColor: ["#1f8a57", "#3b6fd8", "#d8843b", "#8a3bd8", "#d83b5e"][i % 5],
      })),
    },
    options: { animation: false, responsive: true, maintainAspectRatio: false, scales: { x: { stacked: true }, y: { stacked: true, title: { display: true, text: "USD per day" } } } },
  });
}

// ---------------------------------------------------------------- draft

async function draftPage() {
  const pending = await commands.takePendingDraft();
  const text = h("textarea", { id: "draft-input", placeholder: "Bullet points, or paste an email to answer", value: pending ?? "" });
  let tone = "neutral";
  let seed = 1;
  const out = h("div", { class: "output", id: "draft-output" });
  const route = h("div", { class: "route", id: "draft-route" });
  const cloudButton = h("button", { id: "draft-cloud", disabled: true }, "Ask cloud");
  const toneButtons = ["neutral", "friendly", "formal", "firm"].map((t) =>
    h("button", { "aria-selected": String(t === tone), onclick: (e: Event) => { tone = t; toneButtons.forEach((b) => b.setAttribute("aria-selected", String(b === e.target))); } }, t),
  );
  const run = async (cloud: boolean) => {
    out.textContent = "";
    route.textContent = cloud ? "asking the cloud…" : "drafting locally…";
    const channel = new Channel<StreamEvent>();
    channel.onmessage = (e) => {
      if (e.kind === "text") out.textContent += e.text;
      else if (e.kind === "status") { out.textContent = ""; route.textContent = e.text; }
    };
    const d = await ok(commands.draft(text.value, tone, cloud, seed, channel));
    out.textContent = `Subject: ${d.subject}\n\n${d.body}`;
    const failed = d.checks.filter((c) => !c.passed).map((c) => c.name);
    route.textContent = routeLine(d.route) + (failed.length ? ` · checks failed: ${failed.join(", ")}` : "");
    await refreshStatus();
  };
  const estimate = async () => {
    const r = await commands.draftEstimate(text.value, tone);
    if (r.status === "ok") {
      cloudButton.disabled = false;
      cloudButton.textContent = `Ask cloud (≈ ${usd(r.data.estimated_usd)}, ${usd(r.data.remaining_usd)} left)`;
      cloudButton.onclick = () => run(true);
    } else {
      cloudButton.disabled = true;
      cloudButton.title = r.error.message;
    }
  };
  text.addEventListener("change", estimate);
  // The hotkey again while this window is open: draft the new text here.
  await listen("draft-pending", async () => {
    const next = await commands.takePendingDraft();
    if (next && next.trim()) {
      text.value = next;
      seed = 1;
      await run(false);
      await estimate();
    }
  });
  app.replaceChildren(
    text,
    h("div", { class: "row" }, ...toneButtons),
    h(
      "div",
      { class: "row" },
      h("button", { class: "primary", id: "draft-run", onclick: () => run(false) }, "Draft"),
      h("button", { id: "draft-regenerate", onclick: () => { seed += 1; run(false); } }, "Regenerate"),
      h("button", { id: "draft-copy", onclick: () => copy(out.textContent ?? "") }, "Copy"),
      h("button", { id: "draft-paste", title: "Paste into the window you were in", onclick: () => ok(commands.pasteBack(out.textContent ?? "")) }, "Paste back"),
      cloudButton,
    ),
    route,
    out,
  );
  // Opened by the hotkey with text: draft it straight away (the estimate follows).
  if (text.value.trim()) {
    await run(false);
    await estimate();
  }
}

// ---------------------------------------------------------------- ask

async function askPage() {
  const q = h("input", { id: "ask-input", placeholder: "Ask your files…", size: 60 });
  const out = h("div", { id: "ask-output" });
  const go = async () => {
    out.replaceChildren(h("p", { class: "muted" }, "reading your files…"));
    const channel = new Channel<StreamEvent>();
    channel.onmessage = (e) => { if (e.kind === "status") out.replaceChildren(h("p", { class: "muted" }, e.text)); };
    const a = await ok(commands.ask(q.value, false, channel));
    const list = (items: typeof a.sources) =>
      h(
        "ol",
        {},
        ...items.map((s) =>
          h(
            "li",
            { class: "source" },
            h("a", { href: "#ask", title: "open the file", onclick: (e: Event) => { e.preventDefault(); ok(commands.openSource(s.path)); } }, `[${s.n}] ${s.title}`),
            ` — ${s.path}:${s.line}${s.local_only ? " (local-only)" : ""} `,
            h("button", { class: "small", title: "copy path:line", onclick: () => copy(`${s.path}:${s.line}`) }, "copy"),
          ),
        ),
      );
    out.replaceChildren(
      a.found ? h("div", { class: "output" }, a.answer ?? "") : h("p", {}, "Not found in your files."),
      h("div", { class: "route" }, routeLine(a.route)),
      h("h3", {}, a.found ? "Cited" : "Closest passages"),
      list(a.found ? a.cited : a.sources),
    );
  };
  q.addEventListener("keydown", (e) => { if (e.key === "Enter") go(); });
  app.replaceChildren(h("div", { class: "row" }, q, h("button", { class: "primary", onclick: go }, "Ask")), out);
  q.focus();
}

// ---------------------------------------------------------------- summary

async function summaryPage() {
  const bar = h("progress", { hidden: true });
  const out = h("div", { id: "summary-output" });
  const summarize = async (path: string) => {
    bar.hidden = false;
    bar.removeAttribute("value");
    out.replaceChildren(h("p", { class: "muted" }, `Summarizing ${path}…`));
    const channel = new Channel<StreamEvent>();
    channel.onmessage = (e) => {
      if (e.kind === "progress" && e.total > 0) { bar.max = e.total; bar.value = e.done; }
      if (e.kind === "status") out.replaceChildren(h("p", { class: "muted" }, e.text));
    };
    try {
      const s = await ok(commands.summarize(path, false, channel));
      const section = (title: string, items: string[]) => [h("h3", {}, title), items.length ? h("ul", {}, ...items.map((i) => h("li", {}, i))) : h("p", { class: "muted" }, "None.")];
      out.replaceChildren(
        h("h3", {}, "Summary"),
        h("p", {}, s.summary),
        ...section("Decisions", s.decisions),
        ...section("Action items", s.action_items.map((a) => `${a.owner}: ${a.task}${a.due ? ` (by ${a.due})` : ""}`)),
        ...section("Open questions", s.open_questions),
        h("div", { class: "route" }, routeLine(s.route)),
        h(
          "div",
          { class: "row" },
          h("button", { onclick: () => copy(s.markdown) }, "Copy as Markdown"),
          h("button", { onclick: async () => { const p = await ok(commands.saveSummary(s.source, s.markdown)); showError(`Saved ${p}`); } }, "Save next to the transcript"),
        ),
      );
    } finally {
      bar.hidden = true;
    }
  };
  const pick = async () => { const p = await ok(commands.pickTranscript()); if (p) await summarize(p); };
  app.replaceChildren(
    h("div", { class: "drop", id: "drop" }, "Drop a transcript here (.vtt, .srt, .txt, .md) or ", h("button", { class: "primary", onclick: pick }, "Pick a file…")),
    bar,
    out,
  );
  await getCurrentWebview().onDragDropEvent((e) => {
    if (e.payload.type === "drop" && e.payload.paths.length) summarize(e.payload.paths[0]);
  });
}

// ---------------------------------------------------------------- routing

async function route() {
  const page = location.hash.replace("#", "") || "settings";
  await rendering(async () => {
    try {
      if (page === "draft") await draftPage();
      else if (page === "ask") await askPage();
      else if (page === "summary") await summaryPage();
      else await settingsPage((page.split("/")[1] as Tab) || "model");
    } catch (e) {
      if (errorBox.hidden) showError(String(e));
    }
  });
}

window.addEventListener("hashchange", route);
listen("spend-changed", () => refreshStatus());
// The watcher updated the index: the Folders tab shows the new counts as they land.
listen("index-changed", () => {
  lastIndexUpdate = new Date();
  // Only while the Folders tab is on screen (an add stops the watcher, so none arrive then).
  if (!document.getElementById("tab-folders")) return;
  const typing = document.getElementById("folder-path") as HTMLInputElement | null;
  if (typing && (typing.value || document.activeElement === typing)) {
    const watch = document.getElementById("index-watch");
    if (watch) watch.textContent = `· index updated ${lastIndexUpdate.toLocaleTimeString()}`;
  } else settingsPage("folders");
});
refreshStatus();
route();
