// The ask window: a question over the indexed files, answered with cited sources. Copying the
// answer is recorded as its use; an answer that failed its checks is marked with reasons.
import { Channel } from "@tauri-apps/api/core";
import { commands } from "./bindings";
import type { StreamEvent } from "./bindings";
import { app, copy, h, ok, outcome, routeLine, verdictBox } from "./lib";

export async function askPage() {
  const q = h("input", { id: "ask-input", placeholder: "Ask your files…", size: 60 });
  const out = h("div", { id: "ask-output" });
  let shownRun = "";
  const go = async (cloud = false) => {
    if (cloud && shownRun) await outcome(shownRun, "cloud_instead");
    shownRun = "";
    const question = q.value;
    out.replaceChildren(h("p", { class: "muted" }, cloud ? "asking the cloud…" : "reading your files…"));
    const channel = new Channel<StreamEvent>();
    channel.onmessage = (e) => { if (e.kind === "status") out.replaceChildren(h("p", { class: "muted" }, e.text)); };
    const a = await ok(commands.ask(question, cloud, channel));
    shownRun = a.route.route === "local" ? a.route.run_id : "";
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
      verdictBox(a.verdict, "answer", () => go(true), () => commands.askEstimate(question)) ?? "",
      a.found ? h("div", { class: a.verdict.failed ? "output failed" : "output", id: "ask-answer" }, a.answer ?? "") : h("p", {}, "Not found in your files."),
      a.found ? h("div", { class: "row" }, h("button", { id: "ask-copy", onclick: async () => { copy(a.answer ?? ""); await outcome(a.route.run_id, "copied"); } }, "Copy answer")) : "",
      h("div", { class: "route" }, routeLine(a.route, !a.verdict.failed)),
      h("h3", {}, a.found ? "Cited" : "Closest passages"),
      list(a.found ? a.cited : a.sources),
    );
  };
  q.addEventListener("keydown", (e) => { if (e.key === "Enter") go(); });
  app.replaceChildren(h("div", { class: "row" }, q, h("button", { class: "primary", onclick: () => go() }, "Ask")), out);
  q.focus();
}
