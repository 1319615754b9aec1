use std::path::{Path, PathBuf};
use std::process::ExitCode;

use frugal_core::local::human_bytes;
use serde::Serialize;

#[derive(Serialize)]
struct Report<'a> {
    hardware: &'a frugal_core::local::HardwareProfile,
    model: Option<frugal_core::local::GgufInfo>,
    plan: Option<frugal_core::local::LoadPlan>,
    plan_error: Option<String>,
    catalog: Vec<frugal_core::CatalogFit>,
}

pub fn run(config: Option<&Path>, model: Option<PathBuf>, json: bool) -> anyhow::Result<ExitCode> {
    let assistant = super::open(config, model)?;
    let hw = assistant.models().hardware();
    let (info, plan, plan_error) = match assistant.models().plan() {
        Ok((i, p)) => (Some(i), Some(p), None),
        Err(e) => (assistant.models().model_info().ok(), None, Some(e.to_string())),
    };
    let catalog = assistant.models().catalog_fit()?;
    if json {
        super::print_json(&Report { hardware: hw, model: info, plan, plan_error, catalog })?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("Machine");
    let features = if hw.cpu_features.is_empty() { String::new() } else { format!("; {}", hw.cpu_features.join(" ")) };
    println!("  cpu       {} ({} physical cores, {} logical{features})", hw.cpu, hw.physical_cores, hw.logical_cores);
    println!(
        "  memory    {} total, {} available",
        human_bytes(hw.total_ram_bytes),
        human_bytes(hw.available_ram_bytes)
    );
    if hw.gpus.is_empty() {
        println!("  gpu       none seen by llama.cpp");
    }
    for g in &hw.gpus {
        println!(
            "  gpu       {} {} ({}): {} free of {}",
            g.name,
            g.description,
            g.backend,
            human_bytes(g.free_bytes),
            human_bytes(g.total_bytes)
        );
    }
    println!();
    if let Some(i) = &info {
        // A catalog model is shown by its catalog name; any other GGUF by its own header name.
        let file = i.path.file_name().map(|f| f.to_string_lossy().into_owned());
        let name = catalog
            .iter()
            .find(|f| Some(&f.entry.file) == file.as_ref())
            .map_or(i.name.as_str(), |f| f.entry.display.as_str());
        println!(
            "Model       {name} ({}, {} layers, trained context {}, {})",
            i.architecture,
            i.block_count,
            i.context_length,
            human_bytes(i.file_size)
        );
        println!("            {}", i.path.display());
    }
    match (&plan, &plan_error) {
        (Some(p), _) => {
            println!("Load plan");
            for r in &p.reasons {
                let value = match r.topic {
                    "threads" => p.threads.to_string(),
                    "gpu" => format!("{} layers", p.gpu_layers),
                    "context" => p.context.to_string(),
                    "batch" => format!("{}/{}", p.batch, p.ubatch),
                    "memory" => human_bytes(p.memory.total_ram_bytes),
                    _ => String::new(),
                };
                println!("  {:<9} {:<10} {}", r.topic, value, r.text);
            }
        }
        (None, Some(e)) => println!("Load plan   none: {e}"),
        (None, None) => {}
    }
    println!();
    println!("Catalog");
    for f in &catalog {
        let mark = if f.fits { "✓" } else { "✗" };
        let mut tags = Vec::new();
        if f.recommended {
            tags.push("recommended");
        }
        if f.installed {
            tags.push("installed");
        }
        if f.in_use {
            tags.push("in use");
        }
        let tags = if tags.is_empty() { String::new() } else { format!("  [{}]", tags.join(", ")) };
        println!(
            "  {mark} {:<27} {:<9} {:<44} {}{tags}",
            f.entry.name,
            f.entry.kind.as_str(),
            f.entry.display,
            f.reason
        );
    }
    Ok(ExitCode::SUCCESS)
}
