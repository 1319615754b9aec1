// The draft window: bullet points or an email in, a draft out, locally first. What the user
// does with the draft (copy, paste back, regenerate, ask the cloud instead) is recorded
// against its run, and a draft that failed its checks is marked with the reasons.
import { Channel } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import { commands } from "./bindings";
import type { DraftView, StreamEvent } from "./bindings";
import { app, copy, h, ok, outcome, refreshStatus, routeLine, usd, verdictBox } from "./lib";

export async function draftPage() {
  const pending = await commands.takePendingDraft();
  const text = h("textarea", { id: "draft-input", placeholder: "Bullet points, or paste an email to answer", value: pending ?? "" });
  let tone = "neutral";
  let seed = 1;
  // The draft on screen: its run id takes the outcome.
  let shown: DraftView | null = null;
  const out = h("div", { class: "output", id: "draft-output" });
  const route = h("div", { class: "route", id: "draft-route" });
  const verdict = h("div", { id: "draft-verdict" });
  const cloudButton = h("button", { id: "draft-cloud", disabled: true }, "Ask cloud");
  const toneButtons = ["neutral", "friendly", "formal", "firm"].map((t) =>
    h("button", { "aria-selected": String(t === tone), onclick: (e: Event) => { tone = t; toneButtons.forEach((b) => b.setAttribute("aria-selected", String(b === e.target))); } }, t),
  );
  const run = async (cloud: boolean) => {
    // A cloud run asked for over a local draft: that draft was not good enough.
    if (cloud && shown && shown.route.route === "local") await outcome(shown.route.run_id, "cloud_instead");
    shown = null;
    out.dataset.run = "";
    out.textContent = "";
    out.classList.remove("failed");
    verdict.replaceChildren();
    route.textContent = cloud ? "asking the cloud…" : "drafting locally…";
    const channel = new Channel<StreamEvent>();
    channel.onmessage = (e) => {
      if (e.kind === "text") out.textContent += e.text;
      else if (e.kind === "status") { out.textContent = ""; route.textContent = e.text; }
    };
    const d = await ok(commands.draft(text.value, tone, cloud, seed, channel));
    shown = d;
    out.dataset.run = d.route.run_id;
    out.textContent = `Subject: ${d.subject}\n\n${d.body}`;
    out.classList.toggle("failed", d.verdict.failed);
    route.textContent = routeLine(d.route, !d.verdict.failed);
    const box = verdictBox(d.verdict, "draft", () => run(true), () => commands.draftEstimate(text.value, tone));
    if (box) verdict.replaceChildren(box);
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
  const used = async (what: string) => { if (shown) await outcome(shown.route.run_id, what); };
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
      h("button", { id: "draft-regenerate", onclick: async () => { await used("regenerated"); seed += 1; await run(false); } }, "Regenerate"),
      h("button", { id: "draft-copy", onclick: async () => { copy(out.textContent ?? ""); await used("copied"); } }, "Copy"),
      // Recorded first: Paste back closes this window.
      h("button", { id: "draft-paste", title: "Paste into the window you were in", onclick: async () => { const t = out.textContent ?? ""; await used("pasted"); await ok(commands.pasteBack(t)); } }, "Paste back"),
      cloudButton,
    ),
    route,
    verdict,
    out,
  );
  // Opened by the hotkey with text: draft it straight away (the estimate follows).
  if (text.value.trim()) {
    await run(false);
    await estimate();
  }
}
