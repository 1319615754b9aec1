// Settings tab "Providers": the cloud providers, their keys and prices, and the add form.
import { commands } from "../bindings";
import { h, ok, refreshStatus, select, usd } from "../lib";
import { settingsPage } from "./index";

/** Known providers: the form fills kind, address and a model with a list price. */
const PRESETS: { label: string; name: string; kind: string; base_url: string; model: string; tier: string; needs_key: boolean }[] = [
  { label: "OpenAI", name: "openai", kind: "openai", base_url: "https://api.openai.com/v1", model: "gpt-4o-mini", tier: "economy", needs_key: true },
  { label: "OpenAI (premium)", name: "openai-premium", kind: "openai", base_url: "https://api.openai.com/v1", model: "gpt-4.1", tier: "premium", needs_key: true },
  { label: "Anthropic", name: "anthropic", kind: "anthropic", base_url: "https://api.anthropic.com/v1", model: "claude-3-5-haiku-latest", tier: "economy", needs_key: true },
  { label: "Anthropic (premium)", name: "claude", kind: "anthropic", base_url: "https://api.anthropic.com/v1", model: "claude-sonnet-4-0", tier: "premium", needs_key: true },
  { label: "DeepSeek", name: "deepseek", kind: "openai", base_url: "https://api.deepseek.com/v1", model: "deepseek-chat", tier: "economy", needs_key: true },
  { label: "Groq", name: "groq", kind: "openai", base_url: "https://api.groq.com/openai/v1", model: "llama-3.1-8b-instant", tier: "economy", needs_key: true },
  { label: "Google Gemini", name: "gemini", kind: "openai", base_url: "https://generativelanguage.googleapis.com/v1beta/openai", model: "gemini-2.0-flash", tier: "economy", needs_key: true },
  { label: "OpenRouter", name: "openrouter", kind: "openai", base_url: "https://openrouter.ai/api/v1", model: "openai/gpt-4o-mini", tier: "economy", needs_key: true },
  { label: "Your own server (llama.cpp, Ollama, vLLM)", name: "house", kind: "openai", base_url: "http://127.0.0.1:8080/v1", model: "local-model", tier: "economy", needs_key: false },
  { label: "Other (OpenAI-compatible)", name: "", kind: "openai", base_url: "https://", model: "", tier: "economy", needs_key: true },
];

export async function providersTab(body: HTMLElement) {
  const s = await ok(commands.settings());
  const price = (p: (typeof s.providers)[number]) =>
    p.price_in_usd !== null && p.price_out_usd !== null
      ? `$${p.price_in_usd} in · $${p.price_out_usd} out per M tokens`
      : h("span", { class: "warn", title: p.price_error ?? "" }, "no price: never called");
  body.append(
    h("p", { class: "muted" }, `A cloud model is asked only when a local answer is not good enough and the budget allows. Keys go to the OS keychain, never to a file. Config: ${s.config_file}`),
    h(
      "table",
      { id: "providers" },
      h("tr", {}, h("th", {}, "Name"), h("th", {}, "Model"), h("th", {}, "Tier"), h("th", {}, "Price"), h("th", {}, "Key"), h("th", {}, "")),
      ...s.providers.map((p) => {
        const key = h("input", { type: "password", placeholder: "paste key", autocomplete: "off", size: 14 });
        const test = h("button", { onclick: async () => { test.textContent = "testing…"; try { const r = await ok(commands.testProvider(p.name)); test.textContent = `OK (${usd(r.cost_usd)})`; await refreshStatus(); } catch { test.textContent = "Test connection"; } } }, "Test connection");
        return h(
          "tr",
          { class: "provider-row", title: `${p.kind} · ${p.base_url}` },
          h("td", {}, p.name),
          h("td", {}, p.model),
          h("td", {}, p.tier),
          h("td", {}, price(p)),
          h("td", {}, p.key ? `set (${p.key})` : p.needs_key ? p.key_error ?? "missing" : "not needed"),
          h(
            "td",
            {},
            p.needs_key ? key : "",
            p.needs_key ? h("button", { onclick: async () => { await ok(commands.setProviderKey(p.name, key.value)); key.value = ""; await settingsPage("providers"); } }, "Save key") : "",
            " ",
            test,
            " ",
            removeButton(p.name, p.needs_key),
          ),
        );
      }),
    ),
    h("h3", {}, "Add a provider"),
    addProviderForm(),
  );
}

/** Remove asks once more on the button itself (a web view's confirm() is not reliable). */
function removeButton(name: string, withKey: boolean): HTMLElement {
  let armed = false;
  const b = h("button", { class: "remove-provider" }, "Remove");
  b.addEventListener("click", async () => {
    if (!armed) {
      armed = true;
      b.textContent = withKey ? "Remove it and its key?" : "Remove it?";
      return;
    }
    await ok(commands.removeProvider(name));
    await settingsPage("providers");
  });
  return b;
}

function addProviderForm(): HTMLElement {
  const preset = h("select", { id: "provider-preset" }, ...PRESETS.map((p, i) => h("option", { value: String(i) }, p.label)));
  const field = (id: string, placeholder: string, size = 24) => h("input", { id, placeholder, size, autocomplete: "off" });
  const name = field("provider-name", "name (letters, digits, - or _)", 14);
  const url = field("provider-url", "https://api.example.com/v1", 36);
  const model = field("provider-model", "model id", 22);
  const kind = select(["openai", "anthropic"], "openai");
  const tier = select(["economy", "premium"], "economy");
  const key = h("input", { id: "provider-key", type: "password", placeholder: "API key (kept in the keychain)", autocomplete: "off", size: 28 });
  const needsKey = h("input", { type: "checkbox", id: "provider-needs-key", checked: true });
  const priceIn = h("input", { id: "provider-price-in", type: "number", min: "0", step: "0.01", placeholder: "list price", size: 8 });
  const priceOut = h("input", { id: "provider-price-out", type: "number", min: "0", step: "0.01", placeholder: "list price", size: 8 });
  const fill = () => {
    const p = PRESETS[Number(preset.value)];
    name.value = p.name;
    url.value = p.base_url;
    model.value = p.model;
    kind.value = p.kind;
    tier.value = p.tier;
    needsKey.checked = p.needs_key;
    key.disabled = !p.needs_key;
    priceIn.value = priceOut.value = p.needs_key ? "" : "0";
  };
  preset.addEventListener("change", fill);
  needsKey.addEventListener("change", () => { key.disabled = !needsKey.checked; });
  fill();
  const num = (el: HTMLInputElement) => (el.value.trim() === "" ? null : Number(el.value));
  const add = async () => {
    await ok(commands.addProvider({ name: name.value, kind: kind.value, base_url: url.value, model: model.value, tier: tier.value, needs_key: needsKey.checked, key: needsKey.checked ? key.value : "", price_in_usd: num(priceIn), price_out_usd: num(priceOut) }));
    key.value = "";
    await settingsPage("providers");
  };
  return h(
    "div",
    { class: "form", id: "add-provider-form" },
    h("div", { class: "row" }, preset, name, kind, tier),
    h("div", { class: "row" }, url, model),
    h("div", { class: "row" }, h("label", {}, needsKey, " needs a key"), key),
    h("div", { class: "row" }, "Price per million tokens: in $", priceIn, " out $", priceOut, h("span", { class: "muted" }, "leave empty when the model has a list price")),
    h("div", { class: "row" }, h("button", { class: "primary", id: "add-provider", onclick: add }, "Add provider")),
  );
}
