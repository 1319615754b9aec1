//! The planner on literal machines and literal model headers: no hardware needed.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::path::PathBuf;

use frugal_local::plan::{kv_cache_bytes, MIN_CONTEXT};
use frugal_local::{plan, GgufInfo, GpuInfo, HardwareProfile, PlanError, PlanOptions};

const GB: u64 = 1 << 30;

fn machine(total_gb: f64, available_gb: f64, physical: u32, logical: u32, gpu: Option<(f64, f64)>) -> HardwareProfile {
    HardwareProfile {
        cpu: "test cpu".into(),
        physical_cores: physical,
        logical_cores: logical,
        cpu_features: vec!["avx2".into()],
        total_ram_bytes: (total_gb * GB as f64) as u64,
        available_ram_bytes: (available_gb * GB as f64) as u64,
        gpus: gpu
            .map(|(total, free)| GpuInfo {
                name: "CUDA0".into(),
                description: "Test GPU".into(),
                backend: "CUDA".into(),
                total_bytes: (total * GB as f64) as u64,
                free_bytes: (free * GB as f64) as u64,
            })
            .into_iter()
            .collect(),
    }
}

fn netbook_4gb() -> HardwareProfile {
    machine(4.0, 2.5, 2, 4, None)
}
fn laptop_8gb() -> HardwareProfile {
    machine(8.0, 5.0, 4, 8, None)
}
fn desktop_16gb_6gb_vram() -> HardwareProfile {
    machine(16.0, 11.0, 6, 12, Some((6.0, 5.6)))
}
fn workstation_64gb_24gb_vram() -> HardwareProfile {
    machine(64.0, 55.0, 16, 32, Some((24.0, 23.0)))
}

#[allow(clippy::too_many_arguments)]
fn model(
    name: &str,
    layers: u32,
    embd: u32,
    heads: u32,
    kv_heads: u32,
    head_dim: u32,
    ctx: u32,
    vocab: u32,
    bytes: u64,
) -> GgufInfo {
    GgufInfo {
        path: PathBuf::from(format!("/models/{name}.gguf")),
        version: 3,
        architecture: "llama".into(),
        name: name.into(),
        block_count: layers,
        embedding_length: embd,
        head_count: heads,
        head_count_kv: kv_heads,
        key_length: head_dim,
        value_length: head_dim,
        context_length: ctx,
        vocab_size: vocab,
        tensor_count: 300,
        tensor_bytes: bytes,
        file_size: bytes + 4_000_000,
        has_chat_template: true,
    }
}

fn smollm2() -> GgufInfo {
    model("SmolLM2-135M", 30, 576, 9, 3, 64, 8192, 49152, 94_000_000)
}
fn qwen3_4b() -> GgufInfo {
    model("Qwen3-4B", 36, 2560, 32, 8, 128, 40960, 151_936, 2_497_000_000)
}
fn qwen3_8b() -> GgufInfo {
    model("Qwen3-8B", 36, 4096, 32, 8, 128, 40960, 151_936, 5_027_000_000)
}
fn llama_70b() -> GgufInfo {
    model("Llama-3.3-70B", 80, 8192, 64, 8, 128, 131_072, 128_256, 42_500_000_000)
}

#[test]
fn netbook_runs_the_tiny_model_on_physical_cores() {
    let p = plan(&netbook_4gb(), &smollm2(), &PlanOptions::default()).unwrap();
    assert_eq!(p.threads, 2, "threads must not exceed physical cores");
    assert_eq!(p.gpu_layers, 0);
    assert_eq!(p.context, 8192);
    assert!(p.memory.total_ram_bytes < GB);
    assert!(p.reasons.iter().any(|r| r.topic == "gpu" && r.text.contains("no GPU")));
}

#[test]
fn netbook_refuses_8b_with_the_numbers() {
    let e = plan(&netbook_4gb(), &qwen3_8b(), &PlanOptions::default()).unwrap_err();
    let PlanError::DoesNotFit { .. } = &e else { panic!("{e:?}") };
    let msg = e.to_string();
    assert!(msg.starts_with("Qwen3-8B won't fit: needs "), "{msg}");
    assert!(msg.contains("GB available"), "{msg}");
}

#[test]
fn netbook_refuses_4b_too() {
    assert!(plan(&netbook_4gb(), &qwen3_4b(), &PlanOptions::default()).is_err());
}

#[test]
fn laptop_runs_4b_on_the_cpu_within_its_budget() {
    let hw = laptop_8gb();
    let p = plan(&hw, &qwen3_4b(), &PlanOptions::default()).unwrap();
    assert_eq!(p.threads, 4);
    assert_eq!(p.gpu_layers, 0);
    assert!((MIN_CONTEXT..=8192).contains(&p.context));
    assert!(p.memory.total_ram_bytes <= p.ram_budget_bytes);
    assert!(p.ram_budget_bytes < hw.available_ram_bytes, "headroom must be left");
}

#[test]
fn laptop_shrinks_a_long_context_before_refusing() {
    let p = plan(&laptop_8gb(), &qwen3_4b(), &PlanOptions { context: Some(40960), ..Default::default() }).unwrap();
    assert!(p.context < 40960 && p.context >= MIN_CONTEXT, "{}", p.context);
    assert!(p.reasons.iter().any(|r| r.topic == "context" && r.text.contains("shrunk from 40960")), "{:?}", p.reasons);
}

#[test]
fn laptop_refuses_8b() {
    assert!(matches!(plan(&laptop_8gb(), &qwen3_8b(), &PlanOptions::default()), Err(PlanError::DoesNotFit { .. })));
}

#[test]
fn six_gb_gpu_takes_all_of_4b() {
    let p = plan(&desktop_16gb_6gb_vram(), &qwen3_4b(), &PlanOptions::default()).unwrap();
    assert_eq!(p.gpu_layers, 37, "36 blocks + output");
    assert!(p.memory.total_vram_bytes <= (5.6 * GB as f64) as u64);
    assert!(p.memory.weights_ram_bytes == 0);
}

#[test]
fn six_gb_gpu_takes_part_of_8b_and_the_cpu_the_rest() {
    let hw = desktop_16gb_6gb_vram();
    let p = plan(&hw, &qwen3_8b(), &PlanOptions::default()).unwrap();
    assert!(p.gpu_layers > 10 && p.gpu_layers < 37, "{}", p.gpu_layers);
    let free = hw.gpus[0].free_bytes;
    assert!(p.memory.total_vram_bytes <= free, "VRAM over-committed");
    assert!(p.memory.weights_ram_bytes > 0 && p.memory.weights_vram_bytes > 0);
    assert!(p.reasons.iter().any(|r| r.topic == "gpu" && r.text.contains("the rest run on the CPU")));
}

#[test]
fn workstation_offloads_8b_fully_with_a_long_context() {
    let p =
        plan(&workstation_64gb_24gb_vram(), &qwen3_8b(), &PlanOptions { context: Some(32768), ..Default::default() })
            .unwrap();
    assert_eq!(p.gpu_layers, 37);
    assert_eq!(p.context, 32768);
    assert_eq!(p.threads, 16);
}

#[test]
fn workstation_splits_70b_between_gpu_and_ram() {
    let p = plan(&workstation_64gb_24gb_vram(), &llama_70b(), &PlanOptions::default()).unwrap();
    assert!(p.gpu_layers > 20 && p.gpu_layers < 81, "{}", p.gpu_layers);
    assert!(p.memory.total_ram_bytes <= p.ram_budget_bytes);
}

#[test]
fn configured_values_win() {
    let p = plan(
        &desktop_16gb_6gb_vram(),
        &smollm2(),
        &PlanOptions { context: Some(2048), threads: Some(3), gpu_layers: Some(0) },
    )
    .unwrap();
    assert_eq!((p.context, p.threads, p.gpu_layers), (2048, 3, 0));
}

#[test]
fn asking_beyond_the_trained_context_is_capped_and_said() {
    let p = plan(&laptop_8gb(), &smollm2(), &PlanOptions { context: Some(100_000), ..Default::default() }).unwrap();
    assert_eq!(p.context, 8192);
    assert!(p.reasons.iter().any(|r| r.text.contains("trained for 8192")));
}

#[test]
fn kv_cache_follows_the_formula() {
    // 2 (K,V) × 30 layers × 8192 tokens × 3 kv heads × 64 dims × 2 bytes
    assert_eq!(kv_cache_bytes(&smollm2(), 8192), 2 * 30 * 8192 * 3 * 64 * 2);
}

#[test]
fn smaller_plan_halves_context_and_stops_at_the_floor() {
    let p = plan(&laptop_8gb(), &smollm2(), &PlanOptions::default()).unwrap();
    let s = p.smaller().unwrap();
    assert_eq!(s.context, p.context / 2);
    assert!(s.reasons.iter().any(|r| r.topic == "retry"));
    let mut q = s;
    while let Some(n) = q.smaller() {
        q = n;
    }
    assert_eq!(q.context, MIN_CONTEXT);
}

#[test]
fn smaller_plan_gives_up_gpu_layers_too() {
    let p = plan(&desktop_16gb_6gb_vram(), &qwen3_4b(), &PlanOptions::default()).unwrap();
    let s = p.smaller().unwrap();
    assert!(s.gpu_layers < p.gpu_layers && s.gpu_layers > 0, "{} -> {}", p.gpu_layers, s.gpu_layers);
}

#[test]
fn a_header_with_zero_layers_is_invalid() {
    let mut m = smollm2();
    m.block_count = 0;
    assert!(matches!(plan(&laptop_8gb(), &m, &PlanOptions::default()), Err(PlanError::InvalidModel(_))));
}
