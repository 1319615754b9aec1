use crate::harness::*;

#[test]
fn hw_json_describes_the_machine_the_plan_and_the_catalog() {
    let env = Env::new();
    let v = json(&env.run_model(&["hw", "--json"]));
    let hw = &v["hardware"];
    let physical = hw["physical_cores"].as_u64().unwrap();
    assert!(physical >= 1);
    assert!(hw["available_ram_bytes"].as_u64().unwrap() <= hw["total_ram_bytes"].as_u64().unwrap());
    assert!(hw["gpus"].is_array());
    let plan = &v["plan"];
    assert!(plan["threads"].as_u64().unwrap() <= physical, "threads above physical cores");
    assert_eq!(plan["context"].as_u64(), Some(8192));
    let file_size = v["model"]["file_size"].as_u64().unwrap();
    assert!(plan["memory"]["total_ram_bytes"].as_u64().unwrap() > file_size);
    for topic in ["threads", "gpu", "context", "batch", "memory"] {
        assert!(plan["reasons"].as_array().unwrap().iter().any(|r| r["topic"] == topic), "no reason for {topic}");
    }
    let catalog = v["catalog"].as_array().unwrap();
    assert!(catalog.len() >= 8);
    assert!(catalog.iter().all(|c| c["reason"].as_str().unwrap().contains("needs")));
    for kind in ["llm", "speech", "embedding"] {
        assert_eq!(catalog.iter().filter(|c| c["kind"] == kind && c["recommended"] == true).count(), 1, "{kind}");
    }
    // The speech model recommended keeps up: an hour of audio in under 6 minutes here, or
    // the fastest when none does.
    let speech = catalog.iter().find(|c| c["kind"] == "speech" && c["recommended"] == true).unwrap();
    let minutes: f64 =
        speech["reason"].as_str().unwrap().split("about ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!(minutes <= 6.0 || speech["name"] == "whisper-tiny.en", "{speech}");
    if physical < 4 {
        assert_eq!(speech["name"], "whisper-tiny.en", "{speech}");
    }
}

#[test]
fn hw_text_explains_each_choice() {
    let env = Env::new();
    let out = ok(&env.run_model(&["hw"]));
    assert!(out.contains("one per physical core"), "{out}");
    assert!(out.contains("KV cache"), "{out}");
    assert!(out.contains("smollm2-135m"), "{out}");
}

#[test]
fn hw_without_a_model_still_reports_and_says_how_to_get_one() {
    let env = Env::new();
    let v = json(&env.run(&["hw", "--json"]));
    assert!(v["plan"].is_null());
    let err = v["plan_error"].as_str().unwrap();
    assert!(err.contains("frugal models pull smollm2-135m"), "{err}");
}

#[test]
fn a_config_with_a_typo_is_one_clear_line() {
    let env = Env::new();
    env.write_config("[model]\ncontxt = 4096\n");
    let line = one_line_error(&env.run(&["hw"]));
    assert!(line.contains("contxt"), "{line}");
}

#[test]
fn usage_errors_are_one_line_and_help_still_works() {
    let env = Env::new();
    let line = one_line_error(&env.run(&["chat", "--max-tokens", "lots", "hi"]));
    assert!(line.contains("invalid value 'lots'"), "{line}");
    one_line_error(&env.run(&["frobnicate"]));
    let help = ok(&env.run(&["--help"]));
    assert!(help.contains("summarize") && help.contains("draft"), "{help}");
}

#[test]
fn configured_context_and_threads_reach_the_plan() {
    let env = Env::new();
    env.write_config("[model]\ncontext = 2048\nthreads = 1\n");
    let v = json(&env.run_model(&["hw", "--json"]));
    assert_eq!(v["plan"]["context"].as_u64(), Some(2048));
    assert_eq!(v["plan"]["threads"].as_u64(), Some(1));
}
