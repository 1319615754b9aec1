// Settings tab "Spend review": the month's totals, a daily chart per provider, what the answers
// were worth (useful outcomes and their cost), and the ledger.
import { Chart, BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip } from "chart.js";
import { commands } from "../bindings";
import type { SpendView } from "../bindings";
import { h, ok, showError, usd } from "../lib";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

let chart: Chart | null = null;

export async function spendTab(body: HTMLElement, monthText?: string) {
  const s: SpendView = await ok(commands.spend(monthText ?? null));
  const picker = h("input", { type: "month", id: "month", value: s.month, onchange: () => { body.replaceChildren(); spendTab(body, picker.value); } });
  const card = (value: string, label: string, id?: string) => h("div", { class: "card", id }, h("b", {}, value), h("span", {}, label));
  const days = [...new Set(s.daily.map((d) => d.day))].sort();
  const providers = [...new Set(s.daily.map((d) => d.provider))];
  const canvas = h("canvas", { id: "daily-chart" });
  body.append(
    h("div", { class: "row" }, picker, h("button", { id: "export-csv", onclick: async () => { const p = await ok(commands.exportCsv(picker.value)); if (p) showError(`Saved ${p}`); } }, "Export CSV")),
    h(
      "div",
      { class: "cards" },
      card(usd(s.spent_usd), `spent of ${usd(s.cap_usd)}`, "spent"),
      card(usd(s.reserved_usd), "reserved now"),
      card(usd(s.remaining_usd), "left"),
      card(usd(s.projected_usd), "projected month end"),
      card(`${Math.round(s.local_share * 100)}%`, `local (${s.local_requests} of ${s.requests} requests)`, "local-share"),
      card(usd(s.saved_usd), `saved vs all-cloud (${usd(s.all_cloud_usd)})`),
      card(usd(s.cost_per_task_usd), `per completed task (${s.completed_runs})`),
    ),
    h("div", { class: "chart" }, canvas),
    ...usefulOutcomes(s),
    ...levers(s),
    ...(await batches(body, picker)),
    h("h3", {}, "By task"),
    h(
      "table",
      { id: "by-task" },
      h("tr", {}, h("th", {}, "Task"), h("th", { class: "num" }, "Runs"), h("th", { class: "num" }, "Local"), h("th", { class: "num" }, "Cloud"), h("th", { class: "num" }, "Cost"), h("th", { class: "num" }, "Per task")),
      ...s.by_task.map((t) => h("tr", {}, h("td", {}, t.task), h("td", { class: "num" }, String(t.runs)), h("td", { class: "num" }, String(t.local_requests)), h("td", { class: "num" }, String(t.cloud_requests)), h("td", { class: "num" }, usd(t.cost_usd)), h("td", { class: "num" }, usd(t.cost_per_run_usd)))),
    ),
    ...(s.by_app.length
      ? [
          h("h3", {}, "By app (gateway)"),
          h(
            "table",
            { id: "by-app" },
            h("tr", {}, h("th", {}, "App"), h("th", { class: "num" }, "Requests"), h("th", { class: "num" }, "Local"), h("th", { class: "num" }, "Refused"), h("th", { class: "num" }, "Cost"), h("th", { class: "num" }, "Saved")),
            ...s.by_app.map((a) => h("tr", {}, h("td", {}, a.app), h("td", { class: "num" }, String(a.requests)), h("td", { class: "num" }, String(a.local_requests)), h("td", { class: "num" }, String(a.refused)), h("td", { class: "num" }, usd(a.cost_usd)), h("td", { class: "num" }, usd(a.saved_usd)))),
          ),
        ]
      : []),
    h("h3", {}, "By model"),
    h(
      "table",
      { id: "by-model" },
      h("tr", {}, h("th", {}, "Route"), h("th", {}, "Provider"), h("th", {}, "Model"), h("th", { class: "num" }, "Requests"), h("th", { class: "num" }, "Cost")),
      ...s.by_provider.map((p) => h("tr", {}, h("td", {}, p.route), h("td", {}, p.provider), h("td", {}, p.model), h("td", { class: "num" }, String(p.requests)), h("td", { class: "num" }, usd(p.cost_usd)))),
    ),
    h("h3", {}, `Requests (${s.rows.length})`),
    h(
      "table",
      { id: "ledger-rows" },
      h("tr", {}, h("th", {}, "Time"), h("th", {}, "Task"), h("th", {}, "Route"), h("th", {}, "Model"), h("th", { class: "num" }, "Tokens in/out"), h("th", { class: "num" }, "Cost"), h("th", {}, "Outcome"), h("th", {}, "Used")),
      ...s.rows.slice(0, 300).map((r) => h("tr", { class: "ledger-row", title: r.escalation ?? "" }, h("td", {}, r.started_at.replace("T", " ").slice(0, 19)), h("td", {}, r.task), h("td", {}, r.route), h("td", {}, r.model), h("td", { class: "num" }, `${r.prompt_tokens}/${r.completion_tokens}`), h("td", { class: "num" }, usd(r.cost_usd)), h("td", {}, r.outcome), h("td", {}, (r.used ?? "").replace("_", " ")))),
    ),
  );
  chart?.destroy();
  chart = new Chart(canvas, {
    type: "bar",
    data: {
      labels: days,
      datasets: providers.map((p, i) => ({
        label: p,
        data: days.map((d) => s.daily.filter((x) => x.day === d && x.provider === p).reduce((a, x) => a + x.cost_usd, 0)),
        backgroundColor: ["#1f8a57", "#3b6fd8", "#d8843b", "#8a3bd8", "#d83b5e"][i % 5],
      })),
    },
    options: { animation: false, responsive: true, maintainAspectRatio: false, scales: { x: { stacked: true }, y: { stacked: true, title: { display: true, text: "USD per day" } } } },
  });
}

/** What each cost lever saved this month, against the same tokens at full price. */
function levers(s: SpendView): HTMLElement[] {
  const l = s.levers;
  if (l.cache_read_tokens + l.cache_write_tokens + l.batch_requests + l.local_reused_tokens + l.pruned_tokens === 0) return [];
  const card = (value: string, label: string, id?: string) => h("div", { class: "card", id }, h("b", {}, value), h("span", {}, label));
  return [
    h("h3", {}, "What the cost levers saved"),
    h(
      "div",
      { class: "cards", id: "levers" },
      card(usd(l.cache_usd), `prompt caching (${l.cache_read_tokens} tokens read, ${l.cache_write_tokens} written)`, "lever-cache"),
      card(usd(l.batch_usd), `batch price (${l.batch_requests} requests)`, "lever-batch"),
      card(usd(l.local_reuse_usd), `local KV reuse (${l.local_reused_tokens} tokens)`, "lever-kv"),
      card(usd(l.pruned_usd), `pruned context (${l.pruned_tokens} tokens left out)`, "lever-pruned"),
    ),
  ];
}

/** Batched work: pending batches hold their worst case against the budget until they are back. */
async function batches(body: HTMLElement, picker: HTMLInputElement): Promise<HTMLElement[]> {
  const list = await ok(commands.batches());
  if (list.length === 0) return [];
  const cancel = async (id: number) => {
    await ok(commands.cancelBatch(id));
    body.replaceChildren();
    spendTab(body, picker.value);
  };
  return [
    h("h3", {}, "Batches"),
    h(
      "table",
      { id: "batches" },
      h("tr", {}, h("th", {}, "#"), h("th", {}, "State"), h("th", {}, "Task"), h("th", {}, "Provider"), h("th", { class: "num" }, "Reserved"), h("th", { class: "num" }, "Expected"), h("th", { class: "num" }, "Cost"), h("th", { class: "num" }, "Saved"), h("th", {}, "")),
      ...list.map((b) =>
        h(
          "tr",
          { class: "batch-row", title: b.note ?? "" },
          h("td", {}, String(b.id)),
          h("td", {}, b.state),
          h("td", {}, b.task),
          h("td", {}, b.provider),
          h("td", { class: "num" }, usd(b.reserved_usd)),
          h("td", { class: "num" }, usd(b.expected_usd)),
          h("td", { class: "num" }, usd(b.cost_usd)),
          h("td", { class: "num" }, usd(b.saved_usd)),
          h("td", {}, b.open ? h("button", { class: "cancel-batch", onclick: () => cancel(b.id) }, "Cancel") : ""),
        ),
      ),
    ),
  ];
}

/** The product's own metric: what each useful answer cost, and where useful answers came from. */
function usefulOutcomes(s: SpendView): HTMLElement[] {
  const o = s.outcomes;
  const card = (value: string, label: string, id?: string) => h("div", { class: "card", id }, h("b", {}, value), h("span", {}, label));
  if (o.rated_runs === 0) {
    return [h("h3", {}, "Useful answers"), h("p", { class: "muted", id: "useful" }, "No outcomes yet: copying, pasting back or saving an answer counts it as useful.")];
  }
  const table = (id: string, title: string, rows: typeof o.by_task) =>
    h(
      "table",
      { id },
      h("tr", {}, h("th", {}, title), h("th", { class: "num" }, "Rated"), h("th", { class: "num" }, "Useful"), h("th", { class: "num" }, "Cost"), h("th", { class: "num" }, "Per useful")),
      ...rows.map((u) => h("tr", {}, h("td", {}, u.name), h("td", { class: "num" }, String(u.rated)), h("td", { class: "num" }, String(u.useful)), h("td", { class: "num" }, usd(u.cost_usd)), h("td", { class: "num" }, usd(u.cost_per_useful_usd)))),
    );
  return [
    h("h3", {}, "Useful answers"),
    h(
      "div",
      { class: "cards", id: "useful" },
      card(`${o.useful} of ${o.rated_runs}`, "answers used", "useful-count"),
      card(usd(o.cost_per_useful_usd), "per useful answer", "cost-per-useful"),
      card(`${Math.round(o.local_share_of_useful * 100)}%`, "of useful answers made here"),
      card(String(o.escalations_used), "escalations that were used"),
    ),
    table("useful-by-task", "Task", o.by_task),
    table("useful-by-route", "Route", o.by_route),
  ];
}
