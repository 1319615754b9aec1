//! The assistant's services together, without a model: the library behind grounding on real
//! files, and providers edited through the settings and priced by the spend service.
#![allow(clippy::unwrap_used)]

use frugal_core::Assistant;

/// Grounding without a model: the index behind the facade, on real files.
#[test]
fn a_meeting_links_to_the_notes_it_mentions_and_not_to_itself() {
    let tmp = tempfile::tempdir().unwrap();
    let notes = tmp.path().join("notes");
    std::fs::create_dir_all(&notes).unwrap();
    std::fs::write(notes.join("offsite.md"), "# Offsite\n\nThe lake house is booked; catering by Green Fork.").unwrap();
    std::fs::write(notes.join("unrelated.md"), "# Laptops\n\nRefresh every three years.").unwrap();
    std::fs::write(
        notes.join("call.vtt"),
        "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v Ana>The lake house offsite catering is settled.\n",
    )
    .unwrap();
    let config = tmp.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[index]\ndir = {:?}\n\n[[index.folders]]\npath = {:?}\nlocal_only = true\n",
            tmp.path().join("index"),
            notes.canonicalize().unwrap()
        ),
    )
    .unwrap();
    let assistant = Assistant::open(Some(&config), None).unwrap();
    assistant.library().update(&mut |_| {}).unwrap();
    let summary = frugal_core::tasks::summarize::MeetingSummary {
        summary: "The team confirmed the lake house offsite and its catering.".into(),
        ..Default::default()
    };
    let related = assistant.library().related_notes(&summary, Some(&notes.join("call.vtt"))).unwrap();
    let names: Vec<_> = related.iter().map(|h| h.path.file_name().unwrap().to_string_lossy().to_string()).collect();
    assert_eq!(names, vec!["offsite.md"]);
    assert!(related[0].local_only, "the local-only mark must travel with the passage");
}

/// Providers added from the app: checked like a config file, priced when the user gives
/// a price, saved so the CLI reads the same file back, and removed with their prices.
#[test]
fn providers_are_added_priced_and_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("config.toml");
    std::fs::write(&config, format!("ledger = {:?}\n", tmp.path().join("ledger.sqlite3"))).unwrap();
    let a = Assistant::open(Some(&config), None).unwrap();
    let entry = |name: &str, url: &str, model: &str| frugal_core::config::ProviderEntry {
        name: name.into(),
        kind: frugal_cloud::Kind::OpenAi,
        base_url: url.into(),
        model: model.into(),
        tier: frugal_core::config::Tier::Economy,
        context: None,
        needs_key: true,
        timeout_secs: None,
        idle_secs: None,
        max_retries: None,
    };
    for (bad, why) in [
        (entry("my key", "https://x.test/v1", "m"), "name"),
        (entry("ok", "ftp://x.test", "m"), "http(s)"),
        (entry("ok", "https://x.test/v1", " "), "model id"),
    ] {
        let e = a.settings().add_provider(bad, None).unwrap_err().to_string();
        assert!(e.contains(why), "{e}");
    }
    assert!(a.settings().add_provider(entry("ok", "https://x.test/v1", "m"), Some((f64::NAN, 1.0))).is_err());
    assert!(a.config().providers.is_empty(), "a refused provider must not be half added");

    a.settings().add_provider(entry("house", "http://127.0.0.1:8080/v1/", "house-model"), Some((0.5, 1.5))).unwrap();
    let e = a.settings().add_provider(entry("HOUSE", "https://x.test/v1", "m"), None).unwrap_err().to_string();
    assert!(e.contains("already exists"), "{e}");
    let reread = Assistant::open(Some(&config), None).unwrap();
    let p = reread.config().provider("house").unwrap().clone();
    assert_eq!(p.base_url, "http://127.0.0.1:8080/v1");
    let price = reread.spend().price_of(&p).unwrap();
    assert_eq!((price.input, price.output), (500_000, 1_500_000));

    a.settings().set_hotkey(Some(" Ctrl+Alt+D ")).unwrap();
    a.settings().remove_provider("House").unwrap();
    let reread = Assistant::open(Some(&config), None).unwrap();
    assert!(reread.config().providers.is_empty() && reread.config().prices.is_empty());
    assert_eq!(reread.config().app.hotkey.as_deref(), Some("Ctrl+Alt+D"));
    assert!(a.settings().remove_provider("house").unwrap_err().to_string().contains("no provider"));
}
