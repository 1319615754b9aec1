use crate::harness::*;

#[test]
fn bench_json_reports_every_figure() {
    let env = Env::new();
    let v = json(&env.run_model(&["bench", "--json", "--pp", "64", "--tg", "16", "--reps", "1"]));
    for key in
        ["pp_tokens_per_s", "tg_tokens_per_s", "ttft_ms", "load_ms", "prefix_first_ttft_ms", "prefix_second_ttft_ms"]
    {
        let x = v[key].as_f64().unwrap_or_else(|| panic!("{key} missing: {v}"));
        assert!(x > 0.0 && x.is_finite(), "{key} = {x}");
    }
    assert!(
        v["peak_rss_bytes"].as_u64().unwrap()
            > v["model_path"].as_str().map(|p| std::fs::metadata(p).unwrap().len()).unwrap()
    );
    // Unloading gives the model's memory back (the tray app's idle state).
    let (idle, loaded) = (v["idle_rss_bytes"].as_u64().unwrap(), v["loaded_rss_bytes"].as_u64().unwrap());
    assert!(idle + 80_000_000 < loaded, "idle {idle} vs loaded {loaded}");
    assert!(v["threads"].as_u64().unwrap() >= 1);
    assert!(v["model"].as_str().unwrap().to_lowercase().contains("smollm2"));
    // The second request shares the long instruction block and must reuse it.
    let cached = v["prefix_cached_tokens"].as_u64().unwrap();
    let total = v["prefix_tokens"].as_u64().unwrap();
    assert!(cached * 10 >= total * 8, "{cached} of {total} cached");
}
