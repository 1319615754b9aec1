// Helpers shared by the windows and the settings tabs: the page's elements, command results,
// element building, money and route lines, the status bar, the clipboard, the busy marker.
import { commands } from "./bindings";
import type { CommandError, EstimateView, Result, RouteView, VerdictView } from "./bindings";

export const app = document.getElementById("app") as HTMLElement;
export const errorBox = document.getElementById("error") as HTMLElement;

/** Unwraps a command result; a failure shows core's one-line message and stops the caller. */
export async function ok<T>(p: Promise<Result<T, CommandError>>): Promise<T> {
  const r = await p;
  if (r.status === "error") {
    showError(r.error.message);
    throw new Error(r.error.message);
  }
  errorBox.hidden = true;
  return r.data;
}

export function showError(message: string) {
  errorBox.textContent = message;
  errorBox.hidden = false;
}

/** Builds an element: h("button", { class: "primary", onclick }, "Save"). */
export function h<K extends keyof HTMLElementTagNameMap>(
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

export const usd = (v: number | null | undefined) =>
  v === null || v === undefined ? "—" : v !== 0 && Math.abs(v) < 0.01 ? `$${v.toFixed(4)}` : `$${v.toFixed(2)}`;

/** How an answer was served. A failed answer's verdict box says why the cloud was not used in
 * plain words, so the route's own note is left out then (`withNote` false). */
export function routeLine(r: RouteView, withNote = true): string {
  const note = withNote && r.note ? ` · ${r.note}` : "";
  if (r.route === "cloud") {
    return `${r.provider} (${r.model}) · ${usd(r.cost_usd)}${r.escalated ? ` · escalated: ${r.escalated}` : ""}${note}`;
  }
  return `local${r.model ? ` (${r.model})` : ""} · $0${note}`;
}

export async function refreshStatus() {
  const r = await commands.appStatus();
  const el = document.getElementById("status") as HTMLElement;
  el.textContent = r.status === "ok" ? `${r.data.tray_label} · ${r.data.model ?? "no local model"}` : r.error.message;
}

export function copy(text: string) {
  navigator.clipboard?.writeText(text).catch(() => {
    const t = h("textarea", { value: text });
    document.body.append(t);
    t.select();
    document.execCommand("copy");
    t.remove();
  });
}

/** Marks the page busy while it renders (the end-to-end tests wait for it to settle). */
export async function rendering(work: () => Promise<void>) {
  document.body.dataset.busy = String(Number(document.body.dataset.busy ?? "0") + 1);
  try {
    await work();
  } finally {
    document.body.dataset.busy = String(Number(document.body.dataset.busy ?? "1") - 1);
  }
}

export function select(options: string[], value: string): HTMLSelectElement {
  return h("select", {}, ...options.map((o) => h("option", { value: o, selected: o === value }, o.replace("_", " "))));
}

/** Records what the user did with an answer (copied, pasted, saved, regenerated,
 * cloud_instead); never in the way of doing it. */
export async function outcome(runId: string, what: string) {
  if (!runId) return;
  const r = await commands.recordOutcome(runId, what);
  if (r.status === "error") showError(r.error.message);
}

/** A failed answer's box: what is wrong in plain words, then the next steps as buttons.
 * `askCloud` runs the task on the cloud; `estimate` prices it first (null: no estimate). */
export function verdictBox(
  v: VerdictView,
  what: string,
  askCloud: () => void,
  estimate: () => Promise<Result<EstimateView, CommandError>>,
): HTMLElement | null {
  if (!v.failed) return null;
  const steps = v.next.map((s) => {
    if (s.kind === "ask_cloud") {
      const b = h("button", { class: "primary next-step", id: "verdict-ask-cloud", onclick: askCloud }, s.label);
      estimate().then((r) => {
        if (r.status === "ok") b.textContent = `${s.label} (≈ ${usd(r.data.estimated_usd)}, ${usd(r.data.remaining_usd)} left)`;
        else { b.disabled = true; b.title = r.error.message; b.textContent = `${s.label}: ${r.error.message}`; }
      });
      return b;
    }
    if (s.kind === "add_provider") return h("button", { class: "next-step", id: "verdict-add-provider", onclick: () => ok(commands.openWindow("settings")) }, `${s.label}…`);
    return h("button", { class: "next-step", id: "verdict-pull-model", title: "Settings → Model & hardware", onclick: () => ok(commands.openWindow("settings")) }, `${s.label}…`);
  });
  return h(
    "div",
    { class: "verdict", id: "verdict", role: "alert" },
    h("b", {}, `This ${what} failed its checks:`),
    h("ul", {}, ...v.problems.map((p) => h("li", {}, `It ${p}.`))),
    steps.length ? h("div", { class: "row" }, ...steps) : null,
  );
}
