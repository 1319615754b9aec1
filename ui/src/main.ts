// The web UI of Frugal's tray app. One page, routed by the window's hash (#settings, #draft,
// #ask, #summary). It talks to the app only through `bindings.ts`, generated from the Rust
// command types — no hand-written invoke strings.
//
// Layout: this file is only the entry (routing and the app-wide event listeners).
//   lib.ts                shared helpers (the page's elements, ok/showError, h, usd, routeLine,
//                         refreshStatus, copy, rendering, select)
//   draft.ts, ask.ts, summary.ts   one module per window
//   settings/index.ts     the settings window: tab bar and settingsPage/renderSettings
//   settings/model.ts, folders.ts, providers.ts, budget.ts, gateway.ts, spend.ts   one module per tab
import "./style.css";
import { listen } from "@tauri-apps/api/event";
import { errorBox, refreshStatus, rendering, showError } from "./lib";
import { settingsPage } from "./settings/index";
import type { Tab } from "./settings/index";
import { setLastIndexUpdate } from "./settings/folders";
import { draftPage } from "./draft";
import { askPage } from "./ask";
import { summaryPage } from "./summary";

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
  const lastIndexUpdate = new Date();
  setLastIndexUpdate(lastIndexUpdate);
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
