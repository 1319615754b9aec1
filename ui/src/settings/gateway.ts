// Settings tab "Gateway": serve the OpenAI- and Anthropic-compatible gateway while the app
// runs, so every AI tool on the machine goes through the same budget and ledger; the apps
// allowed to call it (each with its token, shown once, and its own cap); snippets to paste.
import { commands } from "../bindings";
import type { GatewayView } from "../bindings";
import { copy, h, ok, usd } from "../lib";

export async function gatewayTab(body: HTMLElement) {
  render(body, await ok(commands.gateway()), null);
}

function render(body: HTMLElement, g: GatewayView, token: { name: string; token: string } | null) {
  const rerender = (v: GatewayView, t: typeof token = null) => {
    body.replaceChildren();
    render(body, v, t);
  };
  const port = h("input", { id: "gateway-port", type: "number", min: "1", max: "65535", value: String(g.port), size: 6 });
  const toggle = h("input", { id: "gateway-enabled", type: "checkbox", checked: g.enabled });
  const apply = async () => rerender(await ok(commands.setGateway(toggle.checked, port.value.trim() === "" ? null : Number(port.value))));
  toggle.addEventListener("change", apply);
  const state = g.running
    ? h("span", { id: "gateway-state", class: "ok" }, `Serving on ${g.base_url}`)
    : h("span", { id: "gateway-state", class: g.error ? "warn" : "muted" }, g.error ?? "Off");

  const name = h("input", { id: "gateway-app-name", placeholder: "continue, aider, webui…", size: 16 });
  const cap = h("input", { id: "gateway-app-cap", type: "number", min: "0", step: "0.5", placeholder: "no cap", size: 6 });
  const localOnly = h("input", { id: "gateway-app-local", type: "checkbox" });
  const add = async () => {
    const n = await ok(commands.addGatewayApp(name.value, cap.value.trim() === "" ? null : Number(cap.value), localOnly.checked));
    rerender(n.gateway, { name: name.value.trim(), token: n.token });
  };

  body.append(
    h("p", { class: "muted" }, "Point your AI tools (IDE assistants, Open WebUI, aider, scripts) at Frugal instead of a cloud: they get the local model first, the cloud only within your budget, and every request lands in Spend review."),
    h("div", { class: "row" }, h("label", {}, toggle, " Serve the gateway while Frugal runs"), " on port ", port, h("button", { onclick: apply }, "Apply"), state),
    h("h3", {}, "Apps"),
    h("p", { class: "muted" }, "Each tool gets its own token and, if you like, its own monthly cap inside the global budget."),
    ...(token
      ? [
          h(
            "div",
            { id: "gateway-token", class: "notice" },
            `Token for ${token.name} — copy it now, it is not shown again: `,
            h("code", {}, token.token),
            h("button", { onclick: () => copy(token.token) }, "Copy"),
          ),
        ]
      : []),
    h(
      "table",
      { id: "gateway-apps" },
      h("tr", {}, h("th", {}, "App"), h("th", {}, "Cap"), h("th", { class: "num" }, "Spent"), h("th", { class: "num" }, "Requests"), h("th", { class: "num" }, "Local"), h("th", {}, "Rules"), h("th", {}, "")),
      ...g.apps.map((a) =>
        h(
          "tr",
          { class: "gateway-app" },
          h("td", {}, a.name),
          h("td", {}, a.budget_usd === null ? "—" : usd(a.budget_usd)),
          h("td", { class: "num" }, usd(a.spent_usd)),
          h("td", { class: "num" }, String(a.requests)),
          h("td", { class: "num" }, `${Math.round(a.local_share * 100)}%`),
          h("td", {}, [a.local_only ? "local only" : "", a.cache ? "" : "no cache", a.models.length ? `models: ${a.models.join(" ")}` : ""].filter(Boolean).join(", ")),
          h("td", {}, h("button", { onclick: async () => rerender(await ok(commands.removeGatewayApp(a.name))) }, "Remove")),
        ),
      ),
    ),
    h("div", { class: "row" }, name, "Cap $", cap, h("label", {}, localOnly, " local only"), h("button", { id: "gateway-app-add", class: "primary", onclick: add }, "Add app")),
    h("h3", {}, "Use it from your tools"),
    h("p", { class: "muted" }, "Replace TOKEN with the app's token. Models: frugal/auto (local first), frugal/local (never leaves the machine), frugal/economy, frugal/premium, or PROVIDER/MODEL."),
    ...g.snippets.map((s) =>
      h("details", { class: "snippet" }, h("summary", {}, s.tool), h("pre", {}, s.text), h("button", { onclick: () => copy(s.text) }, "Copy")),
    ),
  );
}
