//! This machine, as far as rendering cares: what it has (CPU, RAM, NVIDIA
//! GPUs), what this build of gen can drive (cpu, cuda, metal), how much a
//! render will need ([`memory`]) and whether the hardware is slowing down
//! under a long run ([`thermal`]).
//!
//! Everything here is read, never configured, and nothing here fails a
//! command: a machine without an NVIDIA driver, without temperature sensors
//! or without load averages is described as such. What crosses into other
//! rooms is plain, serialisable data ([`SystemInfo`], [`GpuInfo`],
//! [`memory::MemoryPlan`]); the sysinfo and NVML handles stay in here.

pub mod cpu;
pub mod gpu;
pub mod memory;
pub mod thermal;

use std::path::Path;

use serde::Serialize;

pub use cpu::{CpuInfo, RamInfo};
pub use gpu::{GpuInfo, NvidiaInfo, ThrottleReason};

/// A kind of device candle can render on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    Cpu,
    Cuda,
    Metal,
}

impl DeviceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Cpu => "cpu",
            DeviceKind::Cuda => "cuda",
            DeviceKind::Metal => "metal",
        }
    }
}

/// One device kind: whether this build includes it and whether this machine
/// can use it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceSupport {
    pub device: DeviceKind,
    /// Compiled into this binary (cargo feature `cuda` / `metal`; cpu always).
    pub built: bool,
    /// Built, and the hardware it needs is present.
    pub usable: bool,
    /// Why not, or what to know about it.
    pub note: Option<String>,
}

/// The devices of this build (cargo features) against this machine's
/// hardware.
pub fn devices(nvidia_gpus: usize) -> Vec<DeviceSupport> {
    devices_for(
        cfg!(feature = "cuda"),
        cfg!(feature = "flash-attn"),
        cfg!(feature = "metal"),
        nvidia_gpus,
        cfg!(target_os = "macos"),
    )
}

/// [`devices`] with the build and the hardware given, so every case can be
/// tested from one build.
pub fn devices_for(
    cuda: bool,
    flash_attn: bool,
    metal: bool,
    nvidia_gpus: usize,
    macos: bool,
) -> Vec<DeviceSupport> {
    let cuda_note = match (cuda, nvidia_gpus) {
        (false, _) => Some("not in this build (cargo build --release --features cuda)".into()),
        (true, 0) => Some("built, but no NVIDIA GPU found".into()),
        (true, _) if flash_attn => Some("with flash attention (f16 and bf16)".into()),
        (true, _) => None,
    };
    let metal_note = match (metal, macos) {
        (false, _) => Some("not in this build (cargo build --release --features metal)".into()),
        (true, false) => Some("built, but Metal needs macOS".into()),
        (true, true) => None,
    };
    vec![
        DeviceSupport {
            device: DeviceKind::Cpu,
            built: true,
            usable: true,
            note: None,
        },
        DeviceSupport {
            device: DeviceKind::Cuda,
            built: cuda,
            usable: cuda && nvidia_gpus > 0,
            note: cuda_note,
        },
        DeviceSupport {
            device: DeviceKind::Metal,
            built: metal,
            usable: metal && macos,
            note: metal_note,
        },
    ]
}

/// Everything `gen system` knows about the hardware.
#[derive(Debug, Clone, Serialize)]
pub struct SystemInfo {
    /// The operating system, e.g. "Linux 24.04 Ubuntu 24.04 LTS".
    pub os: Option<String>,
    pub cpu: CpuInfo,
    pub ram: RamInfo,
    pub nvidia: NvidiaInfo,
    pub devices: Vec<DeviceSupport>,
}

impl SystemInfo {
    /// Reads the machine. `nvml_library` overrides where libnvidia-ml is
    /// looked for (default: the loader's search path).
    pub fn read(nvml_library: Option<&Path>) -> SystemInfo {
        let nvidia = gpu::read(nvml_library);
        let devices = devices(nvidia.gpus.len());
        SystemInfo {
            os: cpu::os_name(),
            cpu: CpuInfo::read(),
            ram: RamInfo::read(),
            nvidia,
            devices,
        }
    }

    /// The device a render uses when not told: the first NVIDIA GPU when
    /// this build has cuda, Metal on a Mac build with it, else the CPU.
    pub fn best_device(&self) -> DeviceKind {
        let usable = |k| self.devices.iter().any(|d| d.device == k && d.usable);
        if usable(DeviceKind::Cuda) {
            DeviceKind::Cuda
        } else if usable(DeviceKind::Metal) {
            DeviceKind::Metal
        } else {
            DeviceKind::Cpu
        }
    }

    /// Memory free for a render on `device`: the GPU's free memory for cuda
    /// (`gpu_index`), available RAM for cpu and for metal (unified memory).
    /// `None` when that device cannot be measured here.
    pub fn available_bytes(&self, device: DeviceKind, gpu_index: usize) -> Option<u64> {
        match device {
            DeviceKind::Cpu | DeviceKind::Metal => Some(self.ram.available_bytes),
            DeviceKind::Cuda => self.nvidia.gpus.get(gpu_index).map(|g| g.memory_free),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_is_always_usable_and_gpus_need_both_build_and_hardware() {
        let d = devices_for(false, false, false, 2, false);
        assert!(d[0].usable && d[0].device == DeviceKind::Cpu);
        assert!(!d[1].usable);
        assert!(d[1].note.as_deref().unwrap().contains("--features cuda"));
        assert!(!d[2].usable);

        let d = devices_for(true, true, false, 0, false);
        assert!(d[1].built && !d[1].usable);
        assert!(d[1].note.as_deref().unwrap().contains("no NVIDIA GPU"));
        let d = devices_for(true, true, false, 1, false);
        assert!(d[1].usable);
        assert_eq!(
            d[1].note.as_deref(),
            Some("with flash attention (f16 and bf16)")
        );

        let d = devices_for(false, false, true, 0, true);
        assert!(d[2].usable && d[2].note.is_none());
        let d = devices_for(false, false, true, 0, false);
        assert!(d[2].built && !d[2].usable);
    }

    fn machine(gpu_free: Option<u64>, cuda_built: bool) -> SystemInfo {
        let gpus: Vec<GpuInfo> = gpu_free
            .map(|free| GpuInfo {
                index: 0,
                name: "NVIDIA RTX A4000".into(),
                uuid: None,
                memory_total: 16 << 30,
                memory_used: (16 << 30) - free,
                memory_free: free,
                utilisation_percent: None,
                memory_utilisation_percent: None,
                temperature_c: None,
                power_watts: None,
                power_limit_watts: None,
                fan_percent: None,
                throttle_reasons: vec![],
            })
            .into_iter()
            .collect();
        SystemInfo {
            os: None,
            cpu: CpuInfo::read(),
            ram: cpu::ram_with_limits(32 << 30, 20 << 30, 0, None),
            devices: devices_for(cuda_built, false, false, gpus.len(), false),
            nvidia: NvidiaInfo {
                driver_found: !gpus.is_empty(),
                driver_version: None,
                cuda_version: None,
                gpus,
                note: None,
            },
        }
    }

    #[test]
    fn renders_go_to_a_usable_gpu_and_plan_against_its_free_memory() {
        let m = machine(Some(12 << 30), true);
        assert_eq!(m.best_device(), DeviceKind::Cuda);
        assert_eq!(m.available_bytes(DeviceKind::Cuda, 0), Some(12 << 30));
        assert_eq!(m.available_bytes(DeviceKind::Cuda, 1), None);
        assert_eq!(m.available_bytes(DeviceKind::Cpu, 0), Some(20 << 30));
        // A GPU this build cannot drive leaves the CPU.
        assert_eq!(
            machine(Some(12 << 30), false).best_device(),
            DeviceKind::Cpu
        );
        assert_eq!(machine(None, true).best_device(), DeviceKind::Cpu);
    }

    #[test]
    fn this_build_reports_its_features() {
        let d = devices(0);
        assert_eq!(d[1].built, cfg!(feature = "cuda"));
        assert_eq!(d[2].built, cfg!(feature = "metal"));
    }
}
