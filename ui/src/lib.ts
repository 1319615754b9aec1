// Helpers shared by the windows and the settings tabs: the page's elements, command results,
// element building, money and route lines, the status bar, the clipboard, the busy marker.
import { commands } from "./bindings";
import type { CommandError, Result, RouteView } from "./bindings";

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

export function routeLine(r: RouteView): string {
  if (r.route === "cloud") {
    return `${r.provider} (${r.model}) · ${usd(r.cost_usd)}${r.escalated ? ` · escalated: ${r.escalated}` : ""}${r.note ? ` · ${r.note}` : ""}`;
  }
  return `local${r.model ? ` (${r.model})` : ""} · $0${r.note ? ` · ${r.note}` : ""}`;
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
