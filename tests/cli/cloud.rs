//! Cloud escalation through the real binary: simulated providers on 127.0.0.1, the real
//! SQLite ledger in the test's data dir, the real keychain (gnome-keyring under
//! `dbus-run-session`), a crash mid-request, and a privacy canary.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use frugal_cloud::sim::{Fault, SimServer};
use frugal_cloud::Kind;

use crate::harness::{json, ok, one_line_error, stderr, stdout, toml_path, Env};

const CANARY_KEY: &str = "sk-canary-5d41402abc4b2a76b9719d911017c592";

fn provider(name: &str, kind: &str, server: &SimServer, model: &str) -> String {
    format!(
        "[[providers]]\nname = \"{name}\"\nkind = \"{kind}\"\nbase_url = \"{}\"\nmodel = \"{model}\"\nmax_retries = 0\n",
        server.base_url()
    )
}

/// An environment with one simulated provider `sim`, a $5 budget and prices for the sim models.
fn cloud_env(server: &SimServer, kind: &str, extra: &str) -> Env {
    let env = Env::new();
    env.write_config(&format!(
        "[budget]\nmonthly_usd = 5.0\n{extra}\n{}\n[[prices]]\nmodel = \"sim-small\"\ninput = 0.5\noutput = 1.5\n",
        provider("sim", kind, server, "sim-small")
    ));
    env
}

/// The command with the provider key in the environment (the headless path).
fn with_key(env: &Env, args: &[&str]) -> std::process::Output {
    let m = crate::harness::model();
    env.cmd().env("FRUGAL_KEY_SIM", CANARY_KEY).arg("--model").arg(m).args(args).output().unwrap()
}

/// Every file under `dir`, read as bytes, must not contain `needle`.
fn assert_absent(dir: &Path, needle: &str) {
    for entry in walk(dir) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{} contains the canary",
            entry.display()
        );
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn chat_in_the_cloud_is_billed_in_the_ledger_and_reported_by_spend() {
    let server = SimServer::start(Kind::OpenAi).unwrap();
    server.respond_with(|_| "Hello from the cloud.".into());
    let env = cloud_env(&server, "openai", "");
    let out = with_key(&env, &["chat", "--cloud", "Say hello"]);
    assert_eq!(ok(&out).trim(), "Hello from the cloud.");
    assert!(stderr(&out).contains("answered by sim (sim-small) for $"), "{}", stderr(&out));
    let req = &server.requests()[0];
    assert_eq!(req.header("authorization"), Some(format!("Bearer {CANARY_KEY}").as_str()));

    let spend = json(&env.run(&["spend", "--json"]));
    assert_eq!(spend["cap_usd"], 5.0);
    assert_eq!((spend["requests"].as_u64(), spend["cloud_requests"].as_u64()), (Some(1), Some(1)));
    assert_eq!(spend["local_requests"], 0);
    let spent = spend["spent_usd"].as_f64().unwrap();
    assert!(spent > 0.0 && spent < 0.001, "{spent}");
    assert_eq!(spend["reserved_usd"], 0.0);
    let remaining = spend["remaining_usd"].as_f64().unwrap();
    assert!((remaining - (5.0 - spent)).abs() < 1e-9);
    for field in ["month", "saved_usd", "by_provider", "by_task", "daily"] {
        assert!(spend.get(field).is_some(), "spend --json lacks {field}");
    }
    let csv = ok(&env.run(&["spend", "--csv"]));
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(csv.lines().nth(1).unwrap().contains("sim-small"));
    let text = ok(&env.run(&["spend"]));
    assert!(text.contains("1 cloud") && text.contains("sim-small"), "{text}");

    // The key appears in no output, no config and no ledger byte.
    assert!(!stdout(&out).contains(CANARY_KEY) && !stderr(&out).contains(CANARY_KEY));
    assert_absent(env.dir.path(), CANARY_KEY);
}

#[test]
fn the_anthropic_protocol_works_end_to_end() {
    let server = SimServer::start(Kind::Anthropic).unwrap();
    server.respond_with(|body| format!("system was: {}", body["system"].as_str().unwrap_or("none")));
    let env = cloud_env(&server, "anthropic", "");
    let out = with_key(&env, &["chat", "--cloud", "--system", "Be brief.", "hi", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(v["text"], "system was: Be brief.");
    assert_eq!(v["route"]["route"], "cloud");
    assert!(v["usage"]["completion_tokens"].as_u64().unwrap() > 0);
    assert_eq!(server.requests()[0].header("x-api-key"), Some(CANARY_KEY));
}

#[test]
fn dry_run_shows_the_exact_payload_and_sends_nothing() {
    let server = SimServer::start(Kind::OpenAi).unwrap();
    let env = cloud_env(&server, "openai", "");
    let out = with_key(&env, &["chat", "--cloud", "--dry-run", "What is 2+2?"]);
    let v: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(v["outbound"]["body"]["messages"][0]["content"], "What is 2+2?");
    assert_eq!(v["outbound"]["url"], format!("{}/chat/completions", server.base_url()));
    assert!(v["outbound"]["headers"].to_string().contains("Bearer ***"));
    assert!(v["worst_case_usd"].as_f64().unwrap() > 0.0);
    assert!(stderr(&out).contains("nothing was sent"));
    assert!(!stdout(&out).contains(CANARY_KEY));
    assert!(server.requests().is_empty());
    assert_eq!(json(&env.run(&["spend", "--json"]))["requests"], 0);
}

#[test]
fn budget_keys_and_spend_commands() {
    let server = SimServer::start(Kind::OpenAi).unwrap();
    let env = cloud_env(&server, "openai", "");
    ok(&env.run(&["budget", "set", "$12.50"]));
    assert!(std::fs::read_to_string(env.config()).unwrap().contains("monthly_usd = 12.5"));
    let shown = ok(&env.run(&["budget", "show"]));
    assert!(shown.contains("$12.50"), "{shown}");
    assert!(one_line_error(&env.run(&["budget", "set", "lots"])).contains("not an amount"));
    assert!(one_line_error(&env.run(&["spend", "--month", "2026-13"])).contains("2026-13"));
    let listed = ok(&env.cmd().env("FRUGAL_KEY_SIM", CANARY_KEY).args(["keys", "list"]).output().unwrap());
    assert!(listed.contains("sim") && listed.contains("environment") && !listed.contains(CANARY_KEY), "{listed}");
}

#[test]
fn no_budget_no_price_and_no_key_are_one_line_refusals() {
    let server = SimServer::start(Kind::OpenAi).unwrap();
    let env = Env::new();
    env.write_config(&provider("sim", "openai", &server, "sim-small"));
    let line = one_line_error(&with_key(&env, &["chat", "--cloud", "hi"]));
    assert!(line.contains("no monthly budget"), "{line}");
    env.write_config(&format!("[budget]\nmonthly_usd = 1\n{}", provider("sim", "openai", &server, "mystery-model")));
    let line = one_line_error(&with_key(&env, &["chat", "--cloud", "hi"]));
    assert!(line.contains("no price is known for mystery-model"), "{line}");
    let env = cloud_env(&server, "openai", "");
    let line = one_line_error(&env.run_model(&["chat", "--cloud", "hi"]));
    assert!(line.contains("no API key for sim") && line.contains("FRUGAL_KEY_SIM"), "{line}");
    let line = one_line_error(&with_key(&env, &["chat", "--cloud", "--local-only", "hi"]));
    assert!(line.contains("cannot be used with"), "{line}");
    assert!(server.requests().is_empty());
}

#[test]
fn provider_failures_are_one_line_errors_and_cost_nothing() {
    let server = SimServer::start(Kind::OpenAi).unwrap();
    let env = cloud_env(&server, "openai", "");
    server.set_fault(Some(Fault::ServerError));
    let line = one_line_error(&with_key(&env, &["chat", "--cloud", "hi"]));
    assert!(line.contains("sim: failed on its side (HTTP 500)"), "{line}");
    server.set_fault(Some(Fault::Malformed));
    let line = one_line_error(&with_key(&env, &["chat", "--cloud", "hi"]));
    assert!(line.contains("malformed"), "{line}");
    let spend = json(&env.run(&["spend", "--json"]));
    assert_eq!(spend["requests"], 2);
    assert_eq!(spend["failed"], 2);
    // The 500 cost nothing; the malformed stream was accepted, so its worst case is charged.
    assert!(spend["spent_usd"].as_f64().unwrap() > 0.0);
}

/// A summary in the cloud goes through the same task: schema, checks, related notes.
#[test]
fn summarize_in_the_cloud_reports_its_route() {
    let server = SimServer::start(Kind::OpenAi).unwrap();
    server.respond_with(|body| {
        assert!(body["response_format"]["json_schema"]["schema"].is_object(), "the schema travels");
        r#"{"summary": "Maria Lopez, Tom Becker and Aisha Khan agreed to freeze the release branch on Friday.", "decisions": ["Freeze the release branch on Friday"], "action_items": [{"owner": "Tom Becker", "task": "Message Dana to rotate the staging credentials", "due": ""}], "open_questions": []}"#.into()
    });
    let env = cloud_env(&server, "openai", "");
    let fixture = format!("{}/tests/fixtures/meetings/standup.vtt", env!("CARGO_MANIFEST_DIR"));
    let out = with_key(&env, &["summarize", &fixture, "--cloud", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(v["route"]["route"], "cloud");
    assert_eq!(v["route"]["escalated"], "asked (--cloud)");
    assert!(v["summary"].as_str().unwrap().contains("freeze the release branch"));
    assert_eq!(v["action_items"][0]["owner"], "Tom Becker");
    assert!(v["route"]["cost_usd"].as_f64().unwrap() > 0.0);
}

/// Text from a local-only folder never reaches a cloud, whichever way it could get there.
#[test]
fn a_canary_in_a_local_only_folder_never_leaves_the_machine() {
    const CANARY: &str = "CANARY-7731-PRIVATE";
    let server = SimServer::start(Kind::OpenAi).unwrap();
    server.respond_with(|_| "Parking permits are renewed in March [1].".into());
    let env = cloud_env(&server, "openai", "[policy.ask]\nescalate = \"always\"\n");
    let private = env.path("private");
    let public = env.path("public");
    std::fs::create_dir_all(&private).unwrap();
    std::fs::create_dir_all(&public).unwrap();
    std::fs::write(
        private.join("vault.md"),
        format!("# Vault\n\nThe vault access code is {CANARY}. Keep the vault code secret.\n"),
    )
    .unwrap();
    std::fs::write(
        private.join("standup.vtt"),
        format!("WEBVTT\n\n00:00:01.000 --> 00:00:04.000\nAna: The vault code is {CANARY}, do not share it.\n"),
    )
    .unwrap();
    std::fs::write(
        private.join("mail.eml"),
        format!("From: a@b.c\nSubject: vault\n\nPlease confirm the vault code {CANARY} works.\n"),
    )
    .unwrap();
    std::fs::write(
        public.join("parking.md"),
        "# Parking\n\nParking permits are renewed every March at the front desk.\n",
    )
    .unwrap();
    ok(&env.run(&["index", "add", private.to_str().unwrap(), "--local-only"]));
    ok(&env.run(&["index", "add", public.to_str().unwrap()]));

    let vault = private.join("standup.vtt");
    let mail = private.join("mail.eml");
    for args in [
        vec!["ask", "What is the vault code?"],
        vec!["ask", "--cloud", "What is the vault access code?"],
        vec!["summarize", vault.to_str().unwrap(), "--cloud"],
        vec!["draft", "--reply-to", mail.to_str().unwrap(), "--cloud", "say it works"],
        vec!["chat", "--cloud", "--private", "The vault code is CANARY-7731-PRIVATE"],
        vec!["chat", "--cloud", "-f", private.join("vault.md").to_str().unwrap()],
    ] {
        let line = one_line_error(&with_key(&env, &args));
        assert!(line.contains("not sent to a cloud"), "{args:?}: {line}");
    }
    // The same commands on public text do reach the cloud: the guard is specific.
    let out = with_key(&env, &["ask", "--cloud", "When are parking permits renewed?", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(v["route"]["route"], "cloud", "{v}");
    // Marking a folder local-only in the config counts at once, before any re-index.
    let config = std::fs::read_to_string(env.config()).unwrap();
    let marked = config.replacen(
        &format!("path = \"{}\"\nlocal_only = false", toml_path(&public.canonicalize().unwrap())),
        &format!("path = \"{}\"\nlocal_only = true", toml_path(&public.canonicalize().unwrap())),
        1,
    );
    assert_ne!(marked, config, "the public folder entry was found in {config}");
    std::fs::write(env.config(), &marked).unwrap();
    let line = one_line_error(&with_key(&env, &["ask", "--cloud", "When are parking permits renewed?"]));
    assert!(line.contains("not sent to a cloud"), "{line}");
    std::fs::write(env.config(), &config).unwrap();
    let before = server.requests().len();
    let requests = server.requests();
    assert_eq!(requests.len(), before, "the refused ask sent nothing");
    assert!(!requests.is_empty());
    assert!(requests.iter().any(|r| r.body.contains("front desk")), "the public passage was sent");
    for r in &requests {
        assert!(!r.body.contains(CANARY), "the canary reached the cloud: {}", r.body);
    }
}

/// Kill the process while the cloud is answering: the next start settles the reservation at
/// its worst case, and the ledger stays consistent.
#[test]
fn a_crash_mid_request_is_settled_at_its_worst_case() {
    let server = SimServer::start(Kind::OpenAi).unwrap();
    server.set_fault(Some(Fault::Hang));
    let env = cloud_env(&server, "openai", "");
    let mut child = env
        .cmd()
        .env("FRUGAL_KEY_SIM", CANARY_KEY)
        .args(["chat", "--cloud", "--max-tokens", "1000", "Tell me a long story"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while server.requests().is_empty() && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(server.requests().len(), 1, "the request reached the provider");
    child.kill().unwrap(); // SIGKILL: no destructor, no settlement
    child.wait().unwrap();
    let out = env.run(&["spend", "--json"]);
    assert!(stderr(&out).contains("settled 1 interrupted request"), "{}", stderr(&out));
    let spend = json(&out);
    assert_eq!(spend["reserved_usd"], 0.0);
    let spent = spend["spent_usd"].as_f64().unwrap();
    // Worst case: prompt bound ≈ 44 tokens × $0.5/M + 1000 × $1.5/M ≈ $0.0015.
    assert!((0.0015..0.0016).contains(&spent), "{spent}");
    let csv = ok(&env.run(&["spend", "--csv"]));
    assert!(csv.contains("interrupted"), "{csv}");
    assert_eq!(csv.lines().count(), 2);
    // A second start finds nothing left to settle.
    assert!(!stderr(&env.run(&["spend"])).contains("interrupted"));
}

/// The real keychain: gnome-keyring's Secret Service on a private D-Bus session.
#[test]
fn keys_live_in_the_os_keychain_and_never_in_output_or_files() {
    for tool in ["dbus-run-session", "gnome-keyring-daemon"] {
        let found = Command::new("sh").arg("-c").arg(format!("command -v {tool}")).output().unwrap();
        assert!(found.status.success(), "{tool} is missing: run scripts/setup.sh (apt install dbus gnome-keyring)");
    }
    let server = SimServer::start(Kind::OpenAi).unwrap();
    server.respond_with(|_| "keychain works".into());
    let env = cloud_env(&server, "openai", "");
    let d = env.dir.path();
    let bin = env!("CARGO_BIN_EXE_frugal");
    let cfg = toml_path(&env.config());
    let script = format!(
        r#"set -e
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
printf 'unlock' | gnome-keyring-daemon --unlock --components=secrets >/dev/null
F="{bin} --config {cfg}"
printf '%s\n' "$CANARY" | $F keys set sim
echo "--- list"
$F keys list
echo "--- chat"
$F chat --cloud hello
echo "--- remove"
$F keys remove sim
$F keys list sim
"#
    );
    let out = Command::new("dbus-run-session")
        .args(["--", "bash", "-c", &script])
        .env("HOME", d.join("home"))
        .env("XDG_DATA_HOME", d.join("xdg-data"))
        .env("XDG_CONFIG_HOME", d.join("xdg-config"))
        .env("XDG_RUNTIME_DIR", d.join("run"))
        .env("CANARY", CANARY_KEY)
        .env_remove("FRUGAL_KEY_SIM")
        .output()
        .unwrap();
    let (o, e) = (stdout(&out), stderr(&out));
    assert!(out.status.success(), "stdout: {o}\nstderr: {e}");
    assert!(e.contains("key for sim stored in the OS keychain"), "{e}");
    let list = o.split("--- list").nth(1).unwrap().split("--- chat").next().unwrap();
    assert!(list.contains("key set (keychain)"), "{list}");
    assert!(o.contains("keychain works"), "the key was read back from the keychain to call the provider");
    assert!(o.trim_end().ends_with("no key: run `frugal keys set sim`"), "{o}");
    assert_eq!(server.requests()[0].header("authorization"), Some(format!("Bearer {CANARY_KEY}").as_str()));
    assert!(!o.contains(CANARY_KEY) && !e.contains(CANARY_KEY));
    // Not in the config, the ledger, the index or anything else under the test's home — the
    // keyring file itself is encrypted, so the canary is not in it as plain text either.
    assert_absent(d, CANARY_KEY);
}

/// A local draft that failed its checks, with a provider the policy keeps it from: the next
/// step printed is the cloud, priced before anything is sent (nothing reaches the provider).
#[test]
fn a_failed_local_draft_offers_the_cloud_with_its_estimate() {
    let server = SimServer::start(Kind::OpenAi).unwrap();
    let env = cloud_env(&server, "openai", "[policy.draft]\nescalate = \"never\"\n");
    let notes = "- tell Sam the review moved to Friday 10am in room B2.14\n- bring the Q3 figures: 41,200 units, up 7%\n- Lena and Marco will join";
    let out = with_key(&env, &["draft", "--json", "--length", "short", notes]);
    let v = json(&out);
    let err = stderr(&out);
    assert_eq!(v["route"]["route"], "local", "{v}");
    assert!(server.requests().is_empty(), "the estimate sends nothing");
    if v["quality"]["passed"] == true {
        assert!(!err.contains("failed its checks"), "{err}");
        return;
    }
    let next = err.lines().find(|l| l.starts_with("frugal: next: ask the cloud with --cloud: sim (sim-small), ≈ $"));
    assert!(next.is_some(), "{err}");
    assert!(!err.contains("add a cloud provider"), "{err}");
}
