// Settings tab "Folders": the indexed folders, indexing pause, the meetings folder, skipped files.
import { Channel } from "@tauri-apps/api/core";
import { commands } from "../bindings";
import type { StreamEvent } from "../bindings";
import { h, ok } from "../lib";
import { settingsPage } from "./index";

/** When the watcher last applied a batch (shown in the Folders tab). */
let lastIndexUpdate: Date | null = null;

/** Records a watcher batch (main.ts's "index-changed" listener). */
export function setLastIndexUpdate(when: Date) {
  lastIndexUpdate = when;
}

export async function foldersTab(body: HTMLElement) {
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
      h("span", { class: "muted", id: "index-meaning" }, `· ${idx.meaning}`),
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
