use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use frugal_core::download::Phase;
use frugal_core::local::human_bytes;
use frugal_core::ModelKind;
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Subcommand, Debug)]
pub enum ModelsCmd {
    /// The catalog — language, speech and embedding models — with what is installed, in
    /// use, and fits this machine.
    List,
    /// Download a catalog model (resumes, verifies sha256).
    Pull {
        /// Catalog name, e.g. qwen3-4b, whisper-base.en or bge-small-en-v1.5.
        name: String,
    },
    /// Make a catalog model (downloaded) or a model file the one in use for its kind.
    Use {
        /// Catalog name, or the path to a .gguf (language or embedding model) or a
        /// whisper.cpp .bin file (speech model).
        name: String,
    },
}

pub fn run(config: Option<&Path>, model: Option<PathBuf>, json: bool, cmd: ModelsCmd) -> anyhow::Result<ExitCode> {
    let assistant = super::open(config, model)?;
    match cmd {
        ModelsCmd::List => {
            let list = assistant.models().catalog_fit()?;
            if json {
                super::print_json(&list)?;
            } else {
                println!("{:<28} {:<9} {:<6} {:>9}  {:<10} FIT", "NAME", "KIND", "TIER", "SIZE", "STATUS");
                for f in list {
                    let status = if f.in_use {
                        "in use"
                    } else if f.installed {
                        "installed"
                    } else {
                        "-"
                    };
                    println!(
                        "{:<28} {:<9} {:<6} {:>9}  {:<10} {}",
                        f.entry.name,
                        f.entry.kind.as_str(),
                        f.entry.tier,
                        human_bytes(f.entry.size),
                        status,
                        f.reason
                    );
                }
            }
        }
        ModelsCmd::Pull { name } => {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template("{msg:<12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
                    .map_err(|e| anyhow::anyhow!("{e}"))?
                    .progress_chars("=> "),
            );
            let mut phase = None;
            let path = assistant.models().pull(&name, &mut |p, done, total| {
                if phase != Some(p) {
                    phase = Some(p);
                    bar.reset();
                    bar.set_message(match p {
                        Phase::Downloading => "downloading",
                        Phase::Verifying => "verifying",
                        Phase::Extracting => "extracting",
                    });
                }
                bar.set_length(total);
                bar.set_position(done);
            });
            bar.finish_and_clear();
            let path = path?;
            if json {
                super::print_json(&serde_json::json!({ "name": name, "path": path }))?;
            } else {
                println!("{name}: verified and installed at {}", path.display());
                println!("make it the model in use with: frugal models use {name}");
            }
        }
        ModelsCmd::Use { name } => {
            let (kind, path) = assistant.models().use_model(&name)?;
            let setting = kind.setting();
            if json {
                super::print_json(&serde_json::json!({
                    "kind": kind,
                    "path": path,
                    "setting": setting,
                    "config": assistant.paths().config_file,
                }))?;
            } else {
                println!(
                    "now using {} as the {} model ({setting} in {})",
                    path.display(),
                    kind.label(),
                    assistant.paths().config_file.display()
                );
                if kind == ModelKind::Embedding {
                    println!(
                        "every passage is embedded again with it by `frugal index update` (or in the tray app's \
                         background); keyword search works meanwhile"
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
