// Settings tab "Budget": the monthly cap, the daily and per-request caps, the escalation policy.
import { commands } from "../bindings";
import { h, ok, refreshStatus, select, usd } from "../lib";

export async function budgetTab(body: HTMLElement) {
  const s = await ok(commands.settings());
  const status = await ok(commands.appStatus());
  const cap = h("input", { id: "budget-input", type: "number", min: "0", step: "0.5", value: String(s.budget.monthly_usd ?? "") });
  const saved = h("span", { id: "budget-saved", class: "muted" });
  body.append(
    h("h3", {}, "Monthly cloud budget"),
    h("p", { class: "muted" }, "Without a budget nothing is sent to a cloud model. Every request reserves its worst case first, so the cap can't be crossed."),
    h(
      "div",
      { class: "row" },
      "$",
      cap,
      h("button", { class: "primary", id: "budget-save", onclick: async () => { const st = await ok(commands.setBudget(Number(cap.value))); saved.textContent = `Saved · ${st.tray_label}`; await refreshStatus(); } }, "Save"),
      saved,
    ),
    h("p", {}, `This month: spent ${usd(status.spent_usd)}, ${usd(status.remaining_usd)} left.`),
    capsRow(s.budget.daily_usd, s.budget.per_request_usd),
    h("h3", {}, "Escalation policy"),
    h("p", { class: "muted" }, "Local first; a task goes to the cloud when its local answer fails its checks, can't fit, or you ask — never with text from a local-only folder."),
    h(
      "table",
      { id: "policies" },
      h("tr", {}, h("th", {}, "Task"), h("th", {}, "Escalate"), h("th", {}, "Up to")),
      ...s.policies.map((p) => {
        const escalate = select(["when_needed", "never", "always"], p.escalate);
        const tier = select(["economy", "premium"], p.max_tier);
        const save = () => ok(commands.setPolicy(p.task, escalate.value, tier.value));
        escalate.addEventListener("change", save);
        tier.addEventListener("change", save);
        return h("tr", {}, h("td", {}, p.task), h("td", {}, escalate), h("td", {}, tier));
      }),
    ),
  );
}

function capsRow(daily: number | null, perRequest: number | null): HTMLElement {
  const num = (v: number | null, id: string) => h("input", { id, type: "number", min: "0", step: "0.01", value: v === null ? "" : String(v), placeholder: "none", size: 6 });
  const d = num(daily, "daily-cap");
  const r = num(perRequest, "per-request-cap");
  const parse = (el: HTMLInputElement) => (el.value.trim() === "" ? null : Number(el.value));
  return h(
    "div",
    { class: "row" },
    "Daily cap $",
    d,
    "Per-request cap $",
    r,
    h("button", { onclick: async () => { await ok(commands.setCaps(parse(d), parse(r))); await refreshStatus(); } }, "Save caps"),
  );
}
