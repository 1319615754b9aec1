//! Search by meaning end to end on the real embedding model: recall against keyword search
//! on questions in people's words, vectors following edits, renames and deletes, a kill -9
//! mid-embedding, and every bad input the issue names (no model, a corrupt one, a damaged or
//! foreign vector file, long, empty and non-English passages, odd queries).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::harness::*;

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus").canonicalize().unwrap()
}

/// An environment whose index uses the default embedding model (or `model`).
fn env_with(model: &Path) -> Env {
    let env = Env::new();
    env.write_config(&format!("[index]\nembedding_model = \"{}\"\n", toml_path(model)));
    env
}

fn vectors_file(env: &Env) -> PathBuf {
    env.path("xdg-data/frugal/index/vectors.bin")
}

fn status(env: &Env) -> serde_json::Value {
    json(&env.run(&["--json", "index", "status"]))["meaning"].clone()
}

#[derive(serde::Deserialize)]
struct Questions {
    question: Vec<Question>,
}

#[derive(serde::Deserialize)]
struct Question {
    q: String,
    file: String,
}

/// Recall@5 and MRR of `mode` over a question file, by answering file.
fn recall(env: &Env, root: &Path, questions: &str, mode: &str) -> (f64, f64) {
    let text = std::fs::read_to_string(root.join("..").join(questions)).unwrap();
    let qs: Questions = toml::from_str(&text).unwrap();
    let (mut found, mut rr) = (0usize, 0f64);
    for q in &qs.question {
        let hits = json(&env.run(&["--json", "search", "--mode", mode, "-n", "5", &q.q]));
        let want = root.join(&q.file);
        let paths: Vec<PathBuf> =
            hits.as_array().unwrap().iter().map(|h| PathBuf::from(h["path"].as_str().unwrap())).collect();
        if let Some(rank) = paths.iter().position(|p| *p == want) {
            found += 1;
            rr += 1.0 / (rank as f64 + 1.0);
        }
    }
    let n = qs.question.len() as f64;
    (found as f64 / n, rr / n)
}

#[test]
fn hybrid_beats_keyword_on_paraphrases_and_keeps_keyword_questions() {
    let env = env_with(&embedding_model());
    let root = corpus();
    let v = json(&env.run(&["--json", "index", "add", root.to_str().unwrap()]));
    assert_eq!(v["meaning"]["ready"], v["meaning"]["passages"], "{v}");
    assert!(v["meaning"]["embedded"].as_u64().unwrap() >= 11, "{v}");
    let mut table = Vec::new();
    for questions in ["corpus-paraphrased.toml", "corpus-questions.toml"] {
        for mode in ["keyword", "meaning", "hybrid"] {
            let (r, mrr) = recall(&env, &root, questions, mode);
            eprintln!("{questions:24} {mode:8} recall@5 {r:.3}  MRR {mrr:.3}");
            table.push(((questions, mode), (r, mrr)));
        }
    }
    let get = |q: &str, m: &str| table.iter().find(|((a, b), _)| *a == q && *b == m).map(|(_, v)| *v).unwrap();
    let (kw, hy) = (get("corpus-paraphrased.toml", "keyword"), get("corpus-paraphrased.toml", "hybrid"));
    assert!(hy.0 >= kw.0 + 0.25, "paraphrases: hybrid {hy:?} vs keyword {kw:?}");
    let (kw, hy) = (get("corpus-questions.toml", "keyword"), get("corpus-questions.toml", "hybrid"));
    assert!(hy.0 >= kw.0 && hy.1 >= kw.1 - 0.05, "keyword questions: hybrid {hy:?} vs keyword {kw:?}");

    // --json says how each hit ranked in each list.
    let hits = json(&env.run(&["--json", "search", "where are we going for the company retreat"]));
    let first = &hits[0];
    assert!(first["path"].as_str().unwrap().ends_with("offsite-2026.md"), "{hits}");
    assert!(first["meaning_rank"].as_u64().is_some(), "{first}");
    assert!(hits.as_array().unwrap().iter().any(|h| h["keyword_rank"].is_null()), "{hits}");
    let text = ok(&env.run(&["search", "--mode", "hybrid", "company retreat"]));
    assert!(text.contains("words ") && text.contains("meaning #"), "{text}");
    // Filters hold for meaning hits too.
    let within = json(&env.run(&[
        "--json",
        "search",
        "--mode",
        "meaning",
        "--in",
        root.join("mail").to_str().unwrap(),
        "money",
    ]));
    assert!(!within.as_array().unwrap().is_empty());
    assert!(within.as_array().unwrap().iter().all(|h| h["path"].as_str().unwrap().contains("/mail/")), "{within}");
}

#[test]
fn vectors_follow_edits_renames_and_deletes() {
    let env = env_with(&embedding_model());
    let docs = env.path("docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(docs.join("pets.md"), "# Pets\n\nOur cat sleeps on the warm windowsill all afternoon.\n").unwrap();
    std::fs::write(docs.join("car.md"), "# Car\n\nThe hatchback needs new winter tyres before December.\n").unwrap();
    let v = json(&env.run(&["--json", "index", "add", docs.to_str().unwrap()]));
    assert_eq!(v["meaning"]["embedded"], 2, "{v}");
    let top = |q: &str| -> String {
        let hits = json(&env.run(&["--json", "search", "--mode", "meaning", "-n", "1", q]));
        hits[0]["path"].as_str().unwrap().to_string()
    };
    assert!(top("kitten napping in the sun").ends_with("pets.md"));

    // Edit: the new text gets a vector, the old one is dropped or never returned.
    std::fs::write(docs.join("car.md"), "# Car\n\nThe garden needs roses and tulips planted this spring.\n").unwrap();
    let v = json(&env.run(&["--json", "index", "update"]));
    assert_eq!(v["meaning"]["embedded"], 1, "{v}");
    assert!(top("flower beds").ends_with("car.md"));
    let hits = json(&env.run(&["--json", "search", "--mode", "meaning", "snow tyres for the automobile"]));
    assert!(hits.as_array().unwrap().iter().all(|h| !h["text"].as_str().unwrap().contains("hatchback")), "{hits}");

    // Rename: same text, same key: nothing to embed again.
    std::fs::rename(docs.join("pets.md"), docs.join("animals.md")).unwrap();
    let v = json(&env.run(&["--json", "index", "update"]));
    assert_eq!(v["meaning"]["embedded"], 0, "{v}");
    assert!(top("kitten napping in the sun").ends_with("animals.md"));

    // Delete: the index has one passage, and the stale vectors go (half the store).
    std::fs::remove_file(docs.join("animals.md")).unwrap();
    let v = json(&env.run(&["--json", "index", "update"]));
    assert!(v["meaning"]["dropped"].as_u64().unwrap() >= 1, "{v}");
    let s = status(&env);
    assert_eq!((s["ready"].as_u64(), s["passages"].as_u64(), s["stale"].as_u64()), (Some(1), Some(1), Some(0)), "{s}");
    assert!(top("kitten napping in the sun").ends_with("car.md"));

    // Removing the folder drops its vectors at once, not when they reach a fifth.
    ok(&env.run(&["index", "remove", docs.to_str().unwrap()]));
    let (store, _) = frugal_core::vectors::Store::open(&vectors_file(&env), &model_id(), 384).unwrap();
    assert!(store.is_empty(), "{store:?}");
}

#[test]
fn vectors_of_deleted_passages_never_take_the_places_of_live_ones() {
    let env = env_with(&embedding_model());
    let docs = env.path("docs");
    std::fs::create_dir_all(&docs).unwrap();
    // 150 passages far from the query, one live passage near it, and 30 drafts nearer still
    // that are then deleted: too few dead vectors (under a fifth) for a compaction, so they
    // stay in the store, nearer the query than anything live.
    for i in 0..150 {
        std::fs::write(
            docs.join(format!("invoice-{i}.md")),
            format!("Invoice {i} for order {} was paid on day {}.\n", i * 7, i % 28 + 1),
        )
        .unwrap();
    }
    std::fs::write(docs.join("pets.md"), "Our dog naps in the shade of the garden all afternoon.\n").unwrap();
    let draft = |i: usize| format!("Draft {i}: our cat sleeps on the warm windowsill in the sun.\n");
    for i in 0..30 {
        std::fs::write(docs.join(format!("draft-{i}.md")), draft(i)).unwrap();
    }
    let v = json(&env.run(&["--json", "index", "add", docs.to_str().unwrap()]));
    assert_eq!(v["meaning"]["ready"], v["meaning"]["passages"], "{v}");
    let top = |q: &str| -> Vec<String> {
        let hits = json(&env.run(&["--json", "search", "--mode", "meaning", "-n", "1", q]));
        hits.as_array().unwrap().iter().map(|h| h["path"].as_str().unwrap().to_string()).collect()
    };
    assert!(top("kitten napping in the sun")[0].contains("draft-"));
    for i in 0..30 {
        std::fs::remove_file(docs.join(format!("draft-{i}.md"))).unwrap();
    }
    let v = json(&env.run(&["--json", "index", "update"]));
    assert_eq!(v["meaning"]["dropped"], 0, "a compaction would hide the fault: {v}");
    assert_eq!(status(&env)["stale"], 30);
    // The 30 dead vectors are the query's 30 nearest, more than the 26 a one-hit search
    // scans for: the live passage must still be found, not an empty list.
    let found = top("kitten napping in the sun");
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].ends_with("pets.md"), "{found:?}");
    let hybrid = json(&env.run(&["--json", "search", "-n", "3", "kitten napping in the sun"]));
    assert!(hybrid.as_array().unwrap().iter().all(|h| !h["path"].as_str().unwrap().contains("draft-")), "{hybrid}");
    // A passage back with its old text (an edit undone) is found again by its old vector.
    std::fs::write(docs.join("draft-3.md"), draft(3)).unwrap();
    let v = json(&env.run(&["--json", "index", "update"]));
    assert_eq!(v["meaning"]["embedded"], 0, "{v}");
    assert!(top("kitten napping in the sun")[0].ends_with("draft-3.md"));
}

/// A folder removed (`frugal index remove`) while another process holds the embeddings'
/// writer lock (the tray app mid-round): its vectors still go, at the next catch-up of any
/// process, not once dead vectors reach a fifth of the store.
#[test]
fn a_folder_removed_while_another_process_embeds_loses_its_vectors_later() {
    let env = env_with(&embedding_model());
    let (gone, kept) = (env.path("gone"), env.path("kept"));
    std::fs::create_dir_all(&gone).unwrap();
    std::fs::create_dir_all(&kept).unwrap();
    std::fs::write(gone.join("diary.md"), "# Diary\n\nA private note about the doctor's visit.\n").unwrap();
    std::fs::write(gone.join("money.md"), "# Money\n\nThe loan repayments are late again.\n").unwrap();
    for i in 0..12 {
        std::fs::write(kept.join(format!("item-{i}.md")), format!("Item {i} of the packing list: {} socks.\n", i + 2))
            .unwrap();
    }
    ok(&env.run(&["index", "add", gone.to_str().unwrap()]));
    ok(&env.run(&["index", "add", kept.to_str().unwrap()]));
    let stored = || frugal_core::vectors::Store::open(&vectors_file(&env), &model_id(), 384).unwrap().0.len();
    assert_eq!(stored(), 14);
    let (mut other, _) = frugal_core::vectors::Store::open(&vectors_file(&env), &model_id(), 384).unwrap();
    other.writable().unwrap();
    ok(&env.run(&["index", "remove", gone.to_str().unwrap()]));
    assert_eq!(stored(), 14, "the writer's lock was held: nothing could be dropped yet");
    other.release();
    // Two dead of 14 is under a fifth: only the removal's mark drops them now.
    let v = json(&env.run(&["--json", "index", "update"]));
    assert_eq!(v["meaning"]["dropped"], 2, "{v}");
    assert_eq!(stored(), 12);
    let v = json(&env.run(&["--json", "index", "update"]));
    assert_eq!(v["meaning"]["dropped"], 0, "{v}");
}

fn model_id() -> String {
    frugal_core::meaning::model_id(&embedding_model()).unwrap()
}

#[test]
fn meaning_turned_off_is_quiet_and_keyword_only() {
    let env = Env::new();
    env.write_config("[index]\nmeaning = false\n");
    let out = env.run(&["index", "add", corpus().to_str().unwrap()]);
    ok(&out);
    assert!(!stderr(&out).contains("meaning"), "{}", stderr(&out));
    assert!(!vectors_file(&env).exists());
    let out = env.run(&["--json", "search", "hotel per night"]);
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    assert!(json(&out).as_array().unwrap().iter().all(|h| h["meaning_rank"].is_null()));
    let e = one_line_error(&env.run(&["search", "--mode", "meaning", "hotel"]));
    assert!(e.contains("meaning = false"), "{e}");
}

#[test]
fn kill_9_while_embedding_leaves_a_store_that_resumes() {
    let env = env_with(&embedding_model());
    let docs = env.path("many");
    std::fs::create_dir_all(&docs).unwrap();
    // About 15 s of embedding on 2 cores: one passage per note.
    for i in 0..300 {
        let text = format!("# Note {i}\n\nThis note talks about topic {i} and why it matters to the team.\n");
        std::fs::write(docs.join(format!("n{i}.md")), text).unwrap();
    }
    ok(&env.run(&["index", "add", "--keyword-only", docs.to_str().unwrap()]));
    let total = status(&env)["passages"].as_u64().unwrap();
    assert!(total >= 300, "{total}");
    let file = vectors_file(&env);
    let mut child = env.cmd().args(["index", "update"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let start = Instant::now();
    // Kill once a batch or two is on disk (a record is 400 bytes), long before all are.
    while std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0) < 40 * 400 {
        assert!(start.elapsed() < Duration::from_secs(120), "no vectors written");
        assert!(child.try_wait().unwrap().is_none(), "finished before it could be killed");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let s = status(&env);
    let ready = s["ready"].as_u64().unwrap();
    assert!(ready > 0 && ready < total, "{s}");
    assert_eq!(s["stale"], 0, "{s}");
    // Search works meanwhile and says how far it is.
    let out = env.run(&["search", "topic 17"]);
    assert!(ok(&out).contains("Note 17"), "{}", stdout(&out));
    assert!(stderr(&out).contains("% of passages ready"), "{}", stderr(&out));
    // The next update embeds only the rest.
    let v = json(&env.run(&["--json", "index", "update"]));
    assert_eq!(v["meaning"]["embedded"].as_u64().unwrap(), total - ready, "{v}");
    assert_eq!(status(&env)["ready"].as_u64(), Some(total));
}

#[test]
fn no_model_or_a_corrupt_one_leaves_keyword_search_working_with_one_notice() {
    let root = corpus();
    let cases: [(&str, Option<&[u8]>); 3] =
        [("missing", None), ("corrupt", Some(b"GGUF\x03\x00\x00\x00garbage")), ("chat model", Some(&[]))];
    for (name, bytes) in cases {
        let env = Env::new();
        let path = match bytes {
            None => env.path("nothing-here.gguf"),
            Some([]) => model(),
            Some(bytes) => {
                let p = env.path("broken.gguf");
                std::fs::write(&p, bytes).unwrap();
                p
            }
        };
        env.write_config(&format!("[index]\nembedding_model = \"{}\"\n", toml_path(&path)));
        let out = env.run(&["index", "add", root.to_str().unwrap()]);
        ok(&out);
        let err = stderr(&out);
        assert_eq!(err.lines().filter(|l| l.contains("meaning")).count(), 1, "{name}: {err}");
        assert!(err.contains("keyword search works"), "{name}: {err}");
        let out = env.run(&["search", "hotel per night"]);
        assert!(ok(&out).contains("travel-policy.html"), "{name}");
        assert!(stderr(&out).contains("keyword search only"), "{name}: {}", stderr(&out));
        let e = one_line_error(&env.run(&["search", "--mode", "meaning", "hotel"]));
        assert!(e.contains("search by meaning is off"), "{name}: {e}");
        let s = status(&env);
        assert!(s["problem"].as_str().is_some(), "{name}: {s}");
    }
}

#[test]
fn a_damaged_or_foreign_vector_file_is_rebuilt_with_a_message() {
    let env = env_with(&embedding_model());
    let root = corpus();
    ok(&env.run(&["index", "add", root.to_str().unwrap()]));
    let file = vectors_file(&env);
    let passages = status(&env)["passages"].as_u64().unwrap();
    // Cut mid-record, as a crash would.
    let len = std::fs::metadata(&file).unwrap().len();
    std::fs::File::options().write(true).open(&file).unwrap().set_len(len - 100).unwrap();
    let out = env.run(&["--json", "index", "update"]);
    assert!(stderr(&out).contains("torn record"), "{}", stderr(&out));
    assert_eq!(json(&out)["meaning"]["embedded"], 1);
    // Another model's vectors (or plain garbage): never mixed in, rebuilt whole.
    for bytes in [b"FRUGVEC1\x80\x01\x00\x00\x05\x00\x00\x00other\x00\x00\x00\x00".to_vec(), b"not vectors".to_vec()] {
        std::fs::write(&file, &bytes).unwrap();
        let out = env.run(&["--json", "index", "update"]);
        let err = stderr(&out);
        assert!(err.contains("embedded again"), "{err}");
        assert_eq!(json(&out)["meaning"]["embedded"].as_u64(), Some(passages));
    }
    assert_eq!(status(&env)["ready"].as_u64(), Some(passages));
}

#[test]
fn long_empty_and_foreign_passages_and_odd_queries() {
    let env = env_with(&embedding_model());
    let docs = env.path("odd");
    std::fs::create_dir_all(&docs).unwrap();
    // Far past the model's 256-token window.
    let long: String = (0..3000).map(|i| format!("word{i} ")).collect();
    std::fs::write(docs.join("long.txt"), format!("Budget planning notes.\n{long}")).unwrap();
    std::fs::write(docs.join("empty.md"), "").unwrap();
    std::fs::write(docs.join("headings-only.md"), "# Title\n\n## Nothing below\n").unwrap();
    std::fs::write(docs.join("deutsch.md"), "# Urlaub\n\nWir fahren im Sommer mit dem Zug nach Wien.\n").unwrap();
    std::fs::write(docs.join("japanese.md"), "# 会議\n\n来週の会議は火曜日の午後三時からです。\n").unwrap();
    let v = json(&env.run(&["--json", "index", "add", docs.to_str().unwrap()]));
    assert_eq!(v["meaning"]["ready"], v["meaning"]["passages"], "{v}");
    let s = status(&env);
    assert_eq!(s["ready"], s["passages"], "{s}");
    // Queries of one character and of 10,000.
    ok(&env.run(&["search", "--mode", "meaning", "x"]));
    let huge = "budget planning ".repeat(700);
    let hits = json(&env.run(&["--json", "search", "--mode", "hybrid", &huge]));
    assert!(!hits.as_array().unwrap().is_empty());
    let hits =
        json(&env.run(&["--json", "search", "--mode", "meaning", "-n", "1", "Zugreise nach Österreich im Sommer"]));
    assert!(hits[0]["path"].as_str().unwrap().ends_with("deutsch.md"), "{hits}");
    let e = one_line_error(&env.run(&["search", "--mode", "meaning", "   "]));
    assert!(e.contains("empty"), "{e}");
}

#[test]
fn a_large_backlog_is_searchable_through_quick_vectors_until_the_model_replaces_them() {
    let env = Env::new();
    env.write_config(&format!(
        "[index]\nembedding_model = \"{}\"\nquick_vectors_from = 100\n",
        toml_path(&embedding_model())
    ));
    let docs = env.path("many");
    std::fs::create_dir_all(&docs).unwrap();
    // One passage per note: about 15 s of transformer work, over the quick threshold.
    for i in 0..300 {
        let text = format!("# Note {i}\n\nThis note talks about topic {i} and why it matters to the team.\n");
        std::fs::write(docs.join(format!("n{i}.md")), text).unwrap();
    }
    std::fs::write(docs.join("pets.md"), "# Pets\n\nOur cat sleeps on the warm windowsill all afternoon.\n").unwrap();
    ok(&env.run(&["index", "add", "--keyword-only", docs.to_str().unwrap()]));
    let total = status(&env)["passages"].as_u64().unwrap();
    assert!(total >= 301, "{total}");
    // Kill the update once every passage has a quick vector (a record is 400 bytes with the
    // default model's 384 numbers), before the transformer's first batch is on disk.
    let quick = env.path("xdg-data/frugal/index/quick.bin");
    let mut child = env.cmd().args(["index", "update"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let start = Instant::now();
    while std::fs::metadata(&quick).map(|m| m.len()).unwrap_or(0) < total * 400 {
        assert!(start.elapsed() < Duration::from_secs(180), "no quick vectors written");
        assert!(child.try_wait().unwrap().is_none(), "finished before it could be killed");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let s = status(&env);
    let ready = s["ready"].as_u64().unwrap();
    assert!(ready < total, "{s}");
    assert_eq!(s["quick"].as_u64(), Some(total - ready), "{s}");
    // Found by meaning meanwhile, not by its words (none shared), and the note says how.
    let hits = json(&env.run(&["--json", "search", "--mode", "meaning", "-n", "3", "kitten napping in the sun"]));
    assert!(hits[0]["path"].as_str().unwrap().ends_with("pets.md"), "{hits}");
    let out = env.run(&["search", "kitten napping in the sun"]);
    assert!(ok(&out).contains("pets.md"), "{}", stdout(&out));
    assert!(stderr(&out).contains("by quick vectors"), "{}", stderr(&out));
    // A token table cut short (a crash while it was made) is made again, and every quick
    // vector with it; then the transformer takes over, and the quick vectors go once it has
    // embedded everything.
    let table = env.path("xdg-data/frugal/index/quick-tokens.bin");
    let len = std::fs::metadata(&table).unwrap().len();
    std::fs::File::options().write(true).open(&table).unwrap().set_len(len / 2).unwrap();
    // Meanwhile they are not used (a query cannot be summed from half a table) nor counted.
    let out = env.run(&["--json", "search", "--mode", "meaning", "kitten napping in the sun"]);
    let hits = json(&out);
    assert!(hits.as_array().unwrap().iter().all(|h| !h["path"].as_str().unwrap().ends_with("pets.md")), "{hits}");
    assert_eq!(status(&env)["quick"], 0);
    let v = json(&env.run(&["--json", "index", "update"]));
    assert_eq!(v["meaning"]["embedded"].as_u64().unwrap(), total - ready, "{v}");
    assert_eq!(v["meaning"]["quick"].as_u64().unwrap(), total - ready, "{v}");
    let s = status(&env);
    assert_eq!((s["ready"].as_u64(), s["quick"].as_u64()), (Some(total), Some(0)), "{s}");
    let hits = json(&env.run(&["--json", "search", "--mode", "meaning", "-n", "1", "kitten napping in the sun"]));
    assert!(hits[0]["path"].as_str().unwrap().ends_with("pets.md"), "{hits}");
    // A small change stays under the threshold: the transformer alone.
    std::fs::write(docs.join("pets.md"), "# Pets\n\nThe dog chases its ball across the garden.\n").unwrap();
    let v = json(&env.run(&["--json", "index", "update"]));
    assert_eq!((v["meaning"]["embedded"].as_u64(), v["meaning"]["quick"].as_u64()), (Some(1), Some(0)), "{v}");
}
