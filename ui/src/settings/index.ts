// The settings window: a tab bar over one tab at a time (one module per tab).
import { app, h, rendering } from "../lib";
import { modelTab } from "./model";
import { foldersTab } from "./folders";
import { providersTab } from "./providers";
import { budgetTab } from "./budget";
import { spendTab } from "./spend";
import { gatewayTab } from "./gateway";

export type Tab = "model" | "folders" | "providers" | "budget" | "gateway" | "spend";
export const TABS: [Tab, string][] = [
  ["model", "Model & hardware"],
  ["folders", "Folders"],
  ["providers", "Providers"],
  ["budget", "Budget"],
  ["gateway", "Gateway"],
  ["spend", "Spend review"],
];

export async function settingsPage(tab: Tab) {
  await rendering(() => renderSettings(tab));
}

export async function renderSettings(tab: Tab) {
  const body = h("section", { id: `tab-${tab}` });
  const nav = h(
    "nav",
    { class: "tabs" },
    ...TABS.map(([t, label]) =>
      h("button", { id: `tab-button-${t}`, "aria-selected": String(t === tab), onclick: () => settingsPage(t) }, label),
    ),
  );
  app.replaceChildren(nav, body);
  const render = { model: modelTab, folders: foldersTab, providers: providersTab, budget: budgetTab, gateway: gatewayTab, spend: spendTab }[tab];
  await render(body);
}
