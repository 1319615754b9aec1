// The summary window: a meeting transcript in, summary, decisions, action items and questions
// out. Copy and Save are recorded as uses of the summary; a failed one is marked with reasons.
import { Channel } from "@tauri-apps/api/core";
import { getCurrentWebview } from "@tauri-apps/api/webview";
import { commands } from "./bindings";
import type { RecordingView, StreamEvent } from "./bindings";
import { app, copy, h, ok, outcome, routeLine, showError, verdictBox } from "./lib";

export async function summaryPage() {
  const bar = h("progress", { hidden: true });
  const out = h("div", { id: "summary-output" });
  let shownRun = "";
  // Summarizes a file, or (path null) stops the recording and summarizes it.
  const summarize = async (path: string | null, cloud = false) => {
    if (cloud && shownRun) await outcome(shownRun, "cloud_instead");
    shownRun = "";
    bar.hidden = false;
    bar.removeAttribute("value");
    out.replaceChildren(h("p", { class: "muted" }, path === null ? "Finishing the recording…" : `Summarizing ${path}${cloud ? " on the cloud" : ""}…`));
    const channel = new Channel<StreamEvent>();
    channel.onmessage = (e) => {
      if (e.kind === "progress" && e.total > 0) { bar.max = e.total; bar.value = e.done; }
      if (e.kind === "status") out.replaceChildren(h("p", { class: "muted" }, e.text));
    };
    try {
      const s = await ok(path === null ? commands.recordStop(channel) : commands.summarize(path, cloud, channel));
      path = s.source;
      shownRun = s.route.route === "local" ? s.route.run_id : "";
      const run = s.route.run_id;
      const section = (title: string, items: string[]) => [h("h3", {}, title), items.length ? h("ul", {}, ...items.map((i) => h("li", {}, i))) : h("p", { class: "muted" }, "None.")];
      out.replaceChildren(
        verdictBox(s.verdict, "summary", () => summarize(s.source, true), () => commands.summaryEstimate(s.source)) ?? "",
        h(
          "div",
          { class: s.verdict.failed ? "failed answer" : "answer" },
          h("h3", {}, "Summary"),
          h("p", {}, s.summary),
          ...section("Decisions", s.decisions),
          ...section("Action items", s.action_items.map((a) => `${a.owner}: ${a.task}${a.due ? ` (by ${a.due})` : ""}`)),
          ...section("Open questions", s.open_questions),
        ),
        h("div", { class: "route" }, routeLine(s.route, !s.verdict.failed)),
        h(
          "div",
          { class: "row" },
          h("button", { id: "summary-copy", onclick: async () => { copy(s.markdown); await outcome(run, "copied"); } }, "Copy as Markdown"),
          h("button", { id: "summary-save", onclick: async () => { const p = await ok(commands.saveSummary(s.source, s.markdown)); await outcome(run, "saved"); showError(`Saved ${p}`); } }, "Save next to the transcript"),
        ),
      );
    } finally {
      bar.hidden = true;
    }
  };
  const pick = async () => { const p = await ok(commands.pickTranscript()); if (p) await summarize(p); };
  // Record meeting / Stop: the tray's recorder, with the time so far.
  const record = h("button", { id: "record" }, "Record meeting");
  let ticking = 0;
  const showRecording = (r: RecordingView | null) => {
    window.clearInterval(ticking);
    if (!r) { record.textContent = "Record meeting"; record.onclick = start; return; }
    const began = Date.now() - r.elapsed_secs * 1000;
    const tick = () => { const s = Math.floor((Date.now() - began) / 1000); record.textContent = `Stop recording (${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")})`; };
    tick();
    ticking = window.setInterval(tick, 1000);
    record.onclick = async () => { showRecording(null); await summarize(null); };
  };
  const start = async () => { showRecording(await ok(commands.recordStart())); };
  showRecording(await commands.recordStatus());
  app.replaceChildren(
    h("div", { class: "drop", id: "drop" }, "Drop a transcript or a recording here (.vtt, .srt, .txt, .md, .wav, .mp3, .m4a, …) or ", h("button", { class: "primary", onclick: pick }, "Pick a file…"), " ", record),
    bar,
    out,
  );
  await getCurrentWebview().onDragDropEvent((e) => {
    if (e.payload.type === "drop" && e.payload.paths.length) summarize(e.payload.paths[0]);
  });
}
