//! One assistant for the life of the process: settings change in place while a draft streams
//! on the real default model, the engine is kept (started once), and the next request sees the
//! new settings; a change to the model's plan swaps the engine only once nothing holds it.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::{mpsc, Arc};

use frugal_core::config::{ProviderEntry, Tier};
use frugal_core::tasks::draft::{DraftTask, Length, Tone};
use frugal_core::{Assistant, RouteOptions, Routed};
use frugal_llm::{CancelToken, Event};

fn model() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/SmolLM2-135M-Instruct.Q4_1.gguf")
}

fn assistant(dir: &tempfile::TempDir) -> Arc<Assistant> {
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "# kept by hand\nledger = {:?}\n[model]\npath = {:?}\n[index]\ndir = {:?}\n",
            dir.path().join("ledger.sqlite3"),
            model(),
            dir.path().join("index")
        ),
    )
    .unwrap();
    Arc::new(Assistant::open(Some(&config), None).unwrap())
}

fn draft_task(notes: &str) -> DraftTask {
    DraftTask {
        notes: notes.into(),
        reply_to: None,
        tone: Tone::Friendly,
        length: Length::Short,
        seed: 7,
        related: Default::default(),
    }
}

/// Starts a local draft of `notes` on another thread and returns once its first token has
/// streamed: the changes a test makes next happen while the draft is running.
fn draft_streaming(
    a: &Arc<Assistant>,
    notes: &str,
) -> std::thread::JoinHandle<frugal_core::Result<Routed<(frugal_core::tasks::draft::Draft, frugal_core::tasks::Quality)>>>
{
    let (first_token, started) = mpsc::channel();
    let (a, task) = (a.clone(), draft_task(notes));
    let drafting = std::thread::spawn(move || {
        let mut sent = false;
        let opts = RouteOptions { local_only: true, ..Default::default() };
        a.draft(&task, None, &opts, &CancelToken::new(), &mut |e| {
            if matches!(e, Event::Text(_)) && !sent {
                sent = true;
                let _ = first_token.send(());
            }
        })
    });
    started.recv_timeout(std::time::Duration::from_secs(120)).unwrap();
    drafting
}

#[test]
fn settings_change_in_place_while_a_draft_streams_and_the_engine_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let a = assistant(&dir);
    let notes = dir.path().join("notes");
    std::fs::create_dir_all(&notes).unwrap();
    std::fs::write(notes.join("plan.md"), "# Plan\n\nThe okapi enclosure opens in March.").unwrap();

    let drafting = draft_streaming(&a, "- tell Sam the review moved to Friday 10am\n- same room");
    // Every kind of change, while the draft streams.
    a.spend().set_budget(9.0).unwrap();
    a.settings()
        .add_provider(
            ProviderEntry {
                name: "house".into(),
                kind: frugal_core::cloud::Kind::OpenAi,
                base_url: "http://127.0.0.1:9/v1".into(),
                model: "house-model".into(),
                tier: Tier::Economy,
                context: None,
                needs_key: false,
                timeout_secs: None,
                idle_secs: None,
                max_retries: None,
            },
            Some((0.5, 1.5)),
        )
        .unwrap();
    a.settings().set_hotkey(Some("Ctrl+Alt+J")).unwrap();
    a.library().add(&notes, false, &mut |_| {}).unwrap();
    let routed = drafting.join().unwrap().unwrap();
    let Routed::Done((draft, _), _) = routed else { panic!("not a dry run") };
    assert!(!draft.body.trim().is_empty());

    // The next request sees the new settings, on the same engine.
    let c = a.config();
    assert_eq!(c.budget.monthly_usd, Some(9.0));
    assert_eq!(c.app.hotkey.as_deref(), Some("Ctrl+Alt+J"));
    assert_eq!(c.providers[0].name, "house");
    let hits = a.library().search(&frugal_core::index::SearchQuery::new("okapi enclosure")).unwrap();
    assert!(hits[0].path.ends_with("plan.md"), "{hits:?}");
    let opts = RouteOptions { local_only: true, ..Default::default() };
    a.draft(&draft_task("- thank Ana for the notes"), None, &opts, &CancelToken::new(), &mut |_| {}).unwrap();
    assert_eq!(a.models().engine_starts(), 1, "a settings change reloaded the model");
    // The file kept the user's comment, and the CLI reads back what the app wrote.
    let text = std::fs::read_to_string(dir.path().join("config.toml")).unwrap();
    assert!(text.starts_with("# kept by hand"), "{text}");
    let reread = Assistant::open(Some(&dir.path().join("config.toml")), None).unwrap();
    assert_eq!(*reread.config(), *c);
}

#[test]
fn a_plan_change_swaps_the_engine_once_nothing_holds_it() {
    let dir = tempfile::tempdir().unwrap();
    let a = assistant(&dir);
    let held = a.models().engine().unwrap();
    assert_eq!(a.models().engine_starts(), 1);
    a.settings()
        .update(|c| {
            c.model.context = Some(1024);
            Ok(())
        })
        .unwrap();
    // In use: the old engine keeps serving, no second one starts beside it.
    let same = a.models().engine().unwrap();
    assert!(Arc::ptr_eq(&held, &same));
    assert_eq!(a.models().engine_starts(), 1);
    drop((held, same));
    let (_, plan) = a.models().plan().unwrap();
    assert_eq!(plan.context, 1024);
    let fresh = a.models().engine().unwrap();
    assert_eq!(a.models().engine_starts(), 2);
    // The same settings again: kept.
    assert!(Arc::ptr_eq(&fresh, &a.models().engine().unwrap()));
    assert_eq!(a.models().engine_starts(), 2);
}

#[test]
fn a_config_written_by_another_process_is_seen_and_a_broken_one_keeps_the_settings() {
    let dir = tempfile::tempdir().unwrap();
    let a = assistant(&dir);
    let file = dir.path().join("config.toml");
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str("\n[budget]\nmonthly_usd = 4.0\n");
    std::fs::write(&file, &text).unwrap();
    std::thread::sleep(frugal_core::settings::RECHECK);
    assert_eq!(a.config().budget.monthly_usd, Some(4.0));
    std::fs::write(&file, "[budget\n").unwrap();
    std::thread::sleep(frugal_core::settings::RECHECK);
    assert_eq!(a.config().budget.monthly_usd, Some(4.0), "a broken file replaced the settings");
    let notice = a.settings().take_notice().unwrap();
    assert!(notice.contains("config.toml") && notice.contains("line 1"), "{notice}");
}

/// This process's resident memory, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 =
        status.lines().find(|l| l.starts_with("VmRSS:")).unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

#[test]
fn a_model_change_under_load_never_holds_two_engines() {
    let dir = tempfile::tempdir().unwrap();
    let a = assistant(&dir);
    let set_context = |n: u32| {
        a.settings()
            .update(|c| {
                c.model.context = Some(n);
                Ok(())
            })
            .unwrap()
    };
    set_context(8192);
    let (_, big) = a.models().plan().unwrap();
    // Sample the process's memory from before the first load to after the swap.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                peak = peak.max(rss());
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            peak
        })
    };
    let drafting = draft_streaming(&a, "- ask Dana to rotate the staging credentials today");
    // The model's plan changes while the draft streams on the old engine.
    set_context(2048);
    let (_, small) = a.models().plan().unwrap();
    drafting.join().unwrap().unwrap();
    let opts = RouteOptions { local_only: true, ..Default::default() };
    a.draft(&draft_task("- thank Ana for the notes"), None, &opts, &CancelToken::new(), &mut |_| {}).unwrap();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let peak = sampler.join().unwrap();
    assert_eq!(a.models().engine_starts(), 2, "the new plan was not taken");
    let larger = big.memory.total_ram_bytes.max(small.memory.total_ram_bytes);
    eprintln!(
        "peak RSS {} MiB; plans: {} MiB (8192) and {} MiB (2048)",
        peak >> 20,
        big.memory.total_ram_bytes >> 20,
        small.memory.total_ram_bytes >> 20
    );
    assert!(
        peak as f64 <= larger as f64 * 1.15,
        "two engines were resident: peak {} MiB, the larger plan {} MiB",
        peak >> 20,
        larger >> 20
    );
}

/// Another embedding model chosen while a round embeds a backlog (Settings → Models): the
/// round ends after its batch, rather than spend what would be hours on a large folder on
/// vectors the new model's replace; the next round starts on the new one.
#[test]
fn choosing_another_embedding_model_ends_the_round_on_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let minilm = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/all-MiniLM-L6-v2.f16.gguf");
    let docs = dir.path().join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    for i in 0..200 {
        std::fs::write(
            docs.join(format!("note-{i}.md")),
            format!("Note {i}: the shipment of {} crates arrived.\n", i * 3),
        )
        .unwrap();
    }
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "ledger = {:?}\n[model]\npath = {:?}\n[index]\ndir = {:?}\nembedding_model = {:?}\nquick_vectors_from = 100000\n",
            dir.path().join("ledger.sqlite3"),
            model(),
            dir.path().join("index"),
            minilm
        ),
    )
    .unwrap();
    let a = Arc::new(Assistant::open(Some(&config), None).unwrap());
    a.library().add(&docs, false, &mut |_| {}).unwrap();
    // The same model under another name is another model to the store.
    let other = dir.path().join("other-embedder.gguf");
    std::fs::copy(&minilm, &other).unwrap();
    let mut switched = false;
    let round = a
        .library()
        .embed_pending(
            &mut |stage, done, _| {
                if stage == frugal_core::meaning::Stage::Transformer && done > 0 && !switched {
                    switched = true;
                    a.models().use_model(other.to_str().unwrap()).unwrap();
                }
            },
            &std::sync::atomic::AtomicBool::new(false),
        )
        .unwrap();
    assert!(switched);
    assert!(round.cancelled && round.embedded <= 64, "{round:?}");
    // The next round is the new model's, from the start.
    let next = a.library().embed_pending(&mut |_, _, _| {}, &std::sync::atomic::AtomicBool::new(false)).unwrap();
    assert!(!next.cancelled && next.embedded == 200, "{next:?}");
}
