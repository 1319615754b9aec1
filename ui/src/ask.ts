// The ask window: a question over the indexed files, answered with cited sources.
import { Channel } from "@tauri-apps/api/core";
import { commands } from "./bindings";
import type { StreamEvent } from "./bindings";
import { app, copy, h, ok, routeLine } from "./lib";

export async function askPage() {
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
