//! What the machine has: memory (total and *available*), cores, CPU features and the GPUs
//! llama.cpp can see. The probe is the only impure input of the planner.

use serde::Serialize;

/// A GPU (or other accelerator) llama.cpp can offload to.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GpuInfo {
    /// Device name as llama.cpp reports it ("CUDA0").
    pub name: String,
    /// Description ("NVIDIA GeForce RTX 4060").
    pub description: String,
    /// The ggml backend ("CUDA", "Vulkan", "Metal").
    pub backend: String,
    /// Total device memory.
    pub total_bytes: u64,
    /// Free device memory right now.
    pub free_bytes: u64,
}

/// A snapshot of the machine.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HardwareProfile {
    /// CPU model name.
    pub cpu: String,
    /// Physical cores (the right default thread count for generation).
    pub physical_cores: u32,
    /// Logical CPUs (hyper-threads included).
    pub logical_cores: u32,
    /// SIMD features relevant to llama.cpp's CPU kernels.
    pub cpu_features: Vec<String>,
    /// Installed memory.
    pub total_ram_bytes: u64,
    /// Memory available to a new process without swapping (MemAvailable on Linux).
    pub available_ram_bytes: u64,
    /// GPUs llama.cpp sees, with free/total memory.
    pub gpus: Vec<GpuInfo>,
}

impl HardwareProfile {
    /// Probes this machine.
    pub fn probe() -> Self {
        let mut sys = sysinfo::System::new();
        sys.refresh_memory();
        sys.refresh_cpu_list(sysinfo::CpuRefreshKind::nothing());
        let logical = u32::try_from(sys.cpus().len()).unwrap_or(1).max(1);
        let physical = sysinfo::System::physical_core_count()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n > 0)
            .unwrap_or(logical);
        let cpu = sys.cpus().first().map(|c| c.brand().trim().to_string()).unwrap_or_default();
        Self {
            cpu: if cpu.is_empty() { std::env::consts::ARCH.to_string() } else { cpu },
            physical_cores: physical,
            logical_cores: logical,
            cpu_features: cpu_features(),
            total_ram_bytes: sys.total_memory(),
            available_ram_bytes: sys.available_memory(),
            gpus: crate::engine::gpus(),
        }
    }
}

fn cpu_features() -> Vec<String> {
    #[allow(unused_mut)]
    let mut out: Vec<String> = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        macro_rules! check {
            ($($f:tt),*) => {$(
                if std::arch::is_x86_feature_detected!($f) { out.push($f.to_string()); }
            )*};
        }
        check!("sse4.2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vnni", "avxvnni");
    }
    #[cfg(target_arch = "aarch64")]
    {
        macro_rules! check {
            ($($f:tt),*) => {$(
                if std::arch::is_aarch64_feature_detected!($f) { out.push($f.to_string()); }
            )*};
        }
        check!("neon", "dotprod", "i8mm", "sve", "fp16");
    }
    out
}

/// Peak resident set size of this process so far (VmHWM), where the OS reports it.
pub fn peak_rss_bytes() -> Option<u64> {
    proc_status_kib("VmHWM:").map(|k| k * 1024)
}

/// Current resident set size of this process (VmRSS), where the OS reports it.
pub fn current_rss_bytes() -> Option<u64> {
    proc_status_kib("VmRSS:").map(|k| k * 1024)
}

fn proc_status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
