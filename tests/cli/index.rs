//! `frugal index …`, `search` and `ask` on the fixture corpus, the real default model for
//! `ask` and drafts, and the failures a user can cause: a killed indexer, a corrupt index,
//! unreadable files (as an unprivileged user), a folder that is not there.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::*;

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus").canonicalize().unwrap()
}

fn indexed(env: &Env) -> PathBuf {
    let root = corpus();
    let v = json(&env.run(&["--json", "index", "add", root.to_str().unwrap()]));
    assert_eq!(v["files_indexed"], 11, "{v}");
    root
}

#[test]
fn add_status_search_and_remove() {
    let env = Env::new();
    let root = indexed(&env);
    let status = json(&env.run(&["--json", "index", "status"]));
    assert_eq!(status["files"], 11);
    assert!(status["passages"].as_u64().unwrap() >= 11);
    assert_eq!(status["folders"][0]["path"], root.to_str().unwrap());
    assert!(status["last_update"].as_i64().unwrap() > 1_700_000_000);
    let config = std::fs::read_to_string(env.config()).unwrap();
    assert!(config.contains("[[index.folders]]"), "{config}");

    let hits = json(&env.run(&["--json", "search", "hotel", "per", "night"]));
    let first = &hits[0];
    assert!(first["path"].as_str().unwrap().ends_with("docs/travel-policy.html"), "{hits}");
    for key in ["path", "line_start", "line_end", "title", "snippet", "score"] {
        assert!(!first[key].is_null(), "missing {key}: {first}");
    }
    assert_eq!(first["title"], "Travel policy");
    assert!(first["snippet"].as_str().unwrap().contains("180 euros"));

    let text = ok(&env.run(&["search", "Globex", "SAML"]));
    assert!(text.contains("meetings/customer-call.srt:3-"), "{text}");
    let kind = json(&env.run(&["--json", "search", "--kind", "pdf", "revenue", "churn"]));
    assert!(kind.as_array().unwrap().iter().all(|h| h["path"].as_str().unwrap().ends_with(".pdf")), "{kind}");
    assert_eq!(kind.as_array().unwrap().len(), 1);
    let within = json(&env.run(&["--json", "search", "--in", root.join("mail").to_str().unwrap(), "euros", "-n", "3"]));
    assert!(within.as_array().unwrap().iter().all(|h| h["path"].as_str().unwrap().contains("/mail/")), "{within}");
    let future = json(&env.run(&["--json", "search", "--since", "2999-01-01", "euros"]));
    assert_eq!(future, serde_json::json!([]));
    let e = one_line_error(&env.run(&["search", "--since", "yesterday", "euros"]));
    assert!(e.contains("YYYY-MM-DD"), "{e}");
    let e = one_line_error(&env.run(&["search", "--kind", "spreadsheet", "x"]));
    assert!(e.contains("one of"), "{e}");

    let out = ok(&env.run(&["index", "remove", root.to_str().unwrap()]));
    assert!(out.contains("11 files dropped"), "{out}");
    let e = one_line_error(&env.run(&["search", "hotel"]));
    assert!(e.contains("index add"), "{e}");
}

/// The index kept inside a folder it indexes (`[index] dir` there, or a data folder under
/// an indexed home folder): its own files are not indexed, so a commit does not change what
/// the next update finds, and a watcher does not commit for ever.
#[test]
fn an_index_inside_an_indexed_folder_leaves_its_own_files_alone() {
    let env = Env::new();
    let docs = env.path("docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(docs.join("notes.md"), "# Notes\n\nThe boiler was serviced in March.\n").unwrap();
    env.write_config(&format!("[index]\ndir = \"{}\"\nmeaning = false\n", toml_path(&docs.join("frugal-index"))));
    let v = json(&env.run(&["--json", "index", "add", docs.to_str().unwrap()]));
    assert_eq!(v["files_indexed"], 1, "{v}");
    for _ in 0..2 {
        let v = json(&env.run(&["--json", "index", "update"]));
        assert_eq!((v["changed"].as_bool(), v["files_indexed"].as_u64()), (Some(false), Some(0)), "{v}");
    }
}

#[test]
fn nested_and_missing_folders_are_refused_clearly() {
    let env = Env::new();
    let root = indexed(&env);
    let e = one_line_error(&env.run(&["index", "add", root.join("notes").to_str().unwrap()]));
    assert!(e.contains("already indexed as part of"), "{e}");
    let e = one_line_error(&env.run(&["index", "add", env.path("nope").to_str().unwrap()]));
    assert!(e.contains("cannot open folder") && e.contains("nope"), "{e}");
    let e = one_line_error(&env.run(&["index", "remove", "/somewhere/else"]));
    assert!(e.contains("not an indexed folder"), "{e}");
}

#[test]
fn a_corrupt_index_is_rebuilt_with_one_line_and_search_still_works() {
    let env = Env::new();
    indexed(&env);
    let meta = env.path("xdg-data/frugal/index/tantivy/meta.json");
    std::fs::write(&meta, b"\x00garbage").unwrap();
    let out = env.run(&["index", "update"]);
    let err = stderr(&out);
    assert!(ok(&out).contains("11 read"), "{err}");
    // One line for the index (and one saying meaning search is off: no embedding model here).
    assert_eq!(err.lines().filter(|l| !l.contains("search by meaning is off")).count(), 1, "{err}");
    assert!(err.contains("rebuilt"), "{err}");
    let hits = json(&env.run(&["--json", "search", "laptop", "refresh"]));
    assert!(hits[0]["path"].as_str().unwrap().ends_with("threads.mbox"), "{hits}");
}

/// A PDF whose page draws a Form XObject that draws itself: the PDF reader recurses until
/// its stack overflows, which no panic guard catches.
fn self_drawing_pdf() -> Vec<u8> {
    let stream =
        |dict: &str, content: &str| format!("<< {dict} /Length {} >>\nstream\n{content}\nendstream", content.len());
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /XObject << /X0 5 0 R >> >> /Contents 4 0 R >>"
            .to_string(),
        stream("", "/X0 Do"),
        stream("/Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << /XObject << /X0 5 0 R >> >>", "/X0 Do"),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for o in offsets {
        out.extend(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend(
        format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).as_bytes(),
    );
    out
}

/// A PDF that kills its reader (here by overflowing its stack) is a file skipped with a
/// reason; the rest of the folder is indexed, and the next update does not die on it again.
#[test]
fn a_pdf_that_crashes_its_reader_is_skipped_not_the_indexer() {
    let env = Env::new();
    let docs = env.path("docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(docs.join("loop.pdf"), self_drawing_pdf()).unwrap();
    std::fs::write(docs.join("notes.md"), "# Notes\n\nThe heron survey starts in April.\n").unwrap();
    let v = json(&env.run(&["--json", "index", "add", docs.to_str().unwrap()]));
    assert_eq!(v["files_indexed"], 1, "{v}");
    let status = json(&env.run(&["--json", "index", "status"]));
    assert!(status["skipped"].to_string().contains("the reader crashed on it"), "{status}");
    assert!(ok(&env.run(&["search", "heron"])).contains("notes.md"));
    let v = json(&env.run(&["--json", "index", "update"]));
    assert_eq!(v["changed"], false, "{v}");
}

/// Runs `frugal ARGS` so that file permissions apply: as this user, or as `nobody` when
/// the tests run as root (root reads everything), with the environment's folder and `docs`
/// open to it.
fn as_user(env: &Env, docs: &Path, args: &[&str]) -> std::process::Output {
    use std::os::unix::fs::PermissionsExt;
    let is_root = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
    if !is_root {
        return env.run(args);
    }
    // Root reads everything: run as `nobody` so permissions apply.
    for p in [env.dir.path().to_path_buf(), docs.to_path_buf()] {
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let c = env.cmd();
    // The build folder may sit where `nobody` cannot reach (a clone under /root).
    let program = env.path("frugal-as-nobody");
    if !program.exists() {
        std::fs::copy(c.get_program(), &program).unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut wrapped = Command::new("setpriv");
    wrapped.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]).arg(program).args(c.get_args()).args(args);
    for (k, v) in c.get_envs() {
        match v {
            Some(v) => wrapped.env(k, v),
            None => wrapped.env_remove(k),
        };
    }
    wrapped.output().unwrap()
}

#[test]
fn unreadable_files_show_in_status_for_an_unprivileged_user() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let docs = env.path("docs");
    std::fs::create_dir_all(docs.join("locked")).unwrap();
    std::fs::write(docs.join("open.md"), "the heron survey").unwrap();
    std::fs::write(docs.join("secret.md"), "the egret survey").unwrap();
    std::fs::write(docs.join("locked/inner.md"), "the ibis survey").unwrap();
    std::fs::set_permissions(docs.join("secret.md"), std::fs::Permissions::from_mode(0o000)).unwrap();
    std::fs::set_permissions(docs.join("locked"), std::fs::Permissions::from_mode(0o000)).unwrap();
    let run = |args: &[&str]| as_user(&env, &docs, args);
    ok(&run(&["index", "add", docs.to_str().unwrap()]));
    let status = ok(&run(&["index", "status"]));
    assert!(status.contains("secret.md: permission denied"), "{status}");
    assert!(status.contains("locked: permission denied"), "{status}");
    let hits = ok(&run(&["search", "survey"]));
    assert!(hits.contains("open.md") && !hits.contains("secret.md"), "{hits}");
    std::fs::set_permissions(docs.join("locked"), std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// An index this user cannot open (permission denied here; too many open files is the
/// same) is the system's trouble, not damage: one line saying so, and the index is left
/// whole — it used to be set aside and rebuilt empty.
#[test]
fn an_index_that_cannot_be_opened_for_now_is_not_thrown_away() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let docs = env.path("docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(docs.join("notes.md"), "the heron survey").unwrap();
    ok(&as_user(&env, &docs, &["index", "add", docs.to_str().unwrap()]));
    let data = env.path("xdg-data/frugal/index/tantivy");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o000)).unwrap();
    let err = one_line_error(&as_user(&env, &docs, &["index", "update"]));
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(err.contains("ermission denied"), "{err}");
    assert!(!env.path("xdg-data/frugal/index/tantivy.old").exists(), "the index was set aside");
    assert!(ok(&as_user(&env, &docs, &["search", "heron"])).contains("notes.md"));
}

#[test]
fn an_indexer_killed_mid_run_leaves_a_usable_index() {
    // The Rust documentation (≈ 50,000 HTML files) takes long enough to be killed mid-run,
    // after some commits and maybe during one.
    let sysroot = Command::new("rustc").args(["--print", "sysroot"]).output().unwrap();
    let docs = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim()).join("share/doc/rust/html");
    if !docs.is_dir() {
        eprintln!("skipped: no Rust documentation at {}", docs.display());
        return;
    }
    let env = Env::new();
    let mut child = env.cmd().args(["index", "add", docs.to_str().unwrap()]).stdout(Stdio::null()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(6000));
    assert!(child.try_wait().unwrap().is_none(), "indexing finished before it could be killed");
    child.kill().unwrap();
    child.wait().unwrap();
    // Whatever was committed is searchable; nothing errors.
    let status = json(&env.run(&["--json", "index", "status"]));
    let committed = status["files"].as_u64().unwrap();
    ok(&env.run(&["search", "HashMap"]));
    // The next update reads only what the killed run did not commit.
    let r = json(&env.run(&["--json", "index", "update"]));
    assert_eq!(r["files_unchanged"].as_u64().unwrap(), committed, "{r}");
    let seen = r["files_seen"].as_u64().unwrap();
    let status = json(&env.run(&["--json", "index", "status"]));
    assert_eq!(status["files"].as_u64().unwrap() + status["skipped"].as_array().unwrap().len() as u64, seen);
    let hits = json(&env.run(&["--json", "search", "HashMap", "entry"]));
    assert!(hits[0]["path"].as_str().unwrap().contains("collections"), "{hits}");
    eprintln!("killed after 6 s with {committed} of {seen} files committed");
}

#[test]
fn watch_keeps_search_fresh() {
    let env = Env::new();
    let notes = env.path("notes");
    std::fs::create_dir_all(&notes).unwrap();
    std::fs::write(notes.join("a.md"), "first note").unwrap();
    ok(&env.run(&["index", "add", notes.to_str().unwrap()]));
    let mut child = env.cmd().args(["index", "watch"]).stderr(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while err.read_line(&mut line).unwrap() > 0 && !line.contains("watching") {}
    assert!(line.contains("watching 1 folder"), "{line}");
    let notes = notes.canonicalize().unwrap();
    let wait = |word: &str, want: bool| {
        let start = Instant::now();
        loop {
            let found = ok(&env.run(&["search", word])).contains("notes/");
            if found == want {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "{word} never {}",
                if want { "appeared" } else { "left" }
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    std::fs::write(notes.join("b.md"), "the pangolin plan").unwrap();
    let t = wait("pangolin", true);
    // Renamed and deleted before the watcher's debounce settles: one event for `c.md` only.
    std::fs::rename(notes.join("b.md"), notes.join("c.md")).unwrap();
    std::fs::remove_file(notes.join("c.md")).unwrap();
    wait("pangolin", false);
    child.kill().unwrap();
    child.wait().unwrap();
    eprintln!("saved → searchable from another process in {} ms", t.as_millis());
}

#[test]
fn ask_answers_with_citations_or_says_not_found() {
    let env = Env::new();
    let root = indexed(&env);
    // Nothing matches: no model call, a plain "not found".
    let out = ok(&env.run_model(&["ask", "xylophone", "zeppelin"]));
    assert!(out.starts_with("Not found in your files."), "{out}");
    for q in ["When is the Atlas cutover?", "What is the hotel limit per night?"] {
        let v = json(&env.run_model(&["--json", "ask", q]));
        let sources = v["sources"].as_array().unwrap();
        assert!(!sources.is_empty(), "{v}");
        for s in sources {
            assert!(Path::new(s["path"].as_str().unwrap()).starts_with(&root));
        }
        if v["found"] == true {
            // A shown answer cites sources it was given and passed the grounding check.
            assert!(!v["cited"].as_array().unwrap().is_empty(), "{v}");
            assert!(v["answer"].as_str().unwrap().contains('['), "{v}");
            assert_eq!(v["quality"]["passed"], true, "{v}");
        } else {
            assert!(v["answer"].is_null(), "{v}");
            assert_eq!(v["quality"]["passed"], false, "{v}");
        }
    }
}

#[test]
fn a_reply_draft_pulls_related_notes_from_the_index() {
    let env = Env::new();
    indexed(&env);
    let mail = env.path("question.eml");
    std::fs::write(
        &mail,
        "From: Nora Field <nora@example.com>\nTo: Sam <sam@example.com>\nSubject: Offsite catering\n\nHi Sam, who is doing the catering for the offsite barbecue at the lake house?\n",
    )
    .unwrap();
    let v = json(&env.run_model(&["--json", "draft", "--reply-to", mail.to_str().unwrap()]));
    let related = v["related"].as_array().unwrap();
    assert!(!related.is_empty(), "{v}");
    assert!(related[0]["path"].as_str().unwrap().ends_with("notes/offsite-2026.md"), "{v}");
    assert!(related.iter().all(|r| r["path"] != mail.to_str().unwrap()));
}
