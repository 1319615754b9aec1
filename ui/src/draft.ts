// The draft window: bullet points or an email in, a draft out, locally first.
import { Channel } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import { commands } from "./bindings";
import type { StreamEvent } from "./bindings";
import { app, copy, h, ok, refreshStatus, routeLine, usd } from "./lib";

export async function draftPage() {
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
