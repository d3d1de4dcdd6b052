//! CPU and RAM from sysinfo. Only cheap reads: the model name, core counts,
//! load averages (which need no sampling interval, unlike per-core usage),
//! temperatures where the kernel exposes them, and memory as the kernel and
//! a container's cgroup limit see it.

use serde::Serialize;
use sysinfo::{Components, CpuRefreshKind, MemoryRefreshKind, RefreshKind, System};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CpuInfo {
    /// The brand string, e.g. "AMD Ryzen 9 7950X 16-Core Processor".
    pub model: String,
    pub arch: String,
    pub physical_cores: Option<usize>,
    pub logical_cores: usize,
    pub frequency_mhz: Option<u64>,
    /// Load averages over 1, 5 and 15 minutes (absent where the OS has none).
    pub load_average: Option<[f64; 3]>,
    /// The hottest CPU sensor, in °C, where one is readable.
    pub temperature_c: Option<f32>,
    /// That sensor's critical temperature, where it reports one.
    pub critical_c: Option<f32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RamInfo {
    pub total_bytes: u64,
    /// What can be allocated without swapping (the cgroup's free memory when
    /// a container limit is lower).
    pub available_bytes: u64,
    pub swap_total_bytes: u64,
    /// A container's memory limit, when one applies.
    pub cgroup_limit_bytes: Option<u64>,
}

impl CpuInfo {
    pub fn read() -> CpuInfo {
        let sys = System::new_with_specifics(
            RefreshKind::nothing().with_cpu(CpuRefreshKind::nothing().with_frequency()),
        )
        .ok();
        let cpus = sys.as_ref().map(|s| s.cpus()).unwrap_or_default();
        let model = cpus
            .first()
            .map(|c| c.brand().trim().to_string())
            .filter(|b| !b.is_empty())
            .unwrap_or_else(|| "unknown".to_string());
        let logical_cores = if cpus.is_empty() {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            cpus.len()
        };
        let frequency_mhz = cpus.iter().map(|c| c.frequency()).max().filter(|f| *f > 0);
        let load_average = System::load_average()
            .ok()
            .map(|l| [l.one, l.five, l.fifteen]);
        let (temperature_c, critical_c) = read_cpu_temperature();
        CpuInfo {
            model,
            arch: System::cpu_arch(),
            physical_cores: System::physical_core_count().ok(),
            logical_cores,
            frequency_mhz,
            load_average,
            temperature_c,
            critical_c,
        }
    }
}

impl RamInfo {
    pub fn read() -> RamInfo {
        let Ok(sys) = System::new_with_specifics(
            RefreshKind::nothing().with_memory(MemoryRefreshKind::everything()),
        ) else {
            return RamInfo {
                total_bytes: 0,
                available_bytes: 0,
                swap_total_bytes: 0,
                cgroup_limit_bytes: None,
            };
        };
        let limits = sys.cgroup_limits();
        ram_with_limits(
            sys.total_memory(),
            sys.available_memory(),
            sys.total_swap(),
            limits.map(|l| (l.total_memory, l.free_memory)),
        )
    }
}

/// Folds a container's (limit, free) into the machine's figures: the lower
/// of the two wins, so a render is planned against what it may really use.
pub fn ram_with_limits(
    total: u64,
    available: u64,
    swap_total: u64,
    cgroup: Option<(u64, u64)>,
) -> RamInfo {
    let limit = cgroup.filter(|(limit, _)| *limit > 0 && *limit < total);
    RamInfo {
        total_bytes: total,
        available_bytes: match limit {
            Some((_, free)) => available.min(free),
            None => available,
        },
        swap_total_bytes: swap_total,
        cgroup_limit_bytes: limit.map(|(l, _)| l),
    }
}

/// The operating system's long name, where known.
pub fn os_name() -> Option<String> {
    System::long_os_version().ok()
}

/// The hottest CPU sensor and its critical point, from the components
/// sysinfo sees (hwmon on Linux, SMC on macOS).
fn read_cpu_temperature() -> (Option<f32>, Option<f32>) {
    let Ok(components) = Components::new_with_refreshed_list() else {
        return (None, None);
    };
    let readings: Vec<SensorReading> = components
        .iter()
        .map(|c| SensorReading {
            label: c.label().to_string(),
            temperature_c: c.temperature(),
            critical_c: c.critical(),
        })
        .collect();
    cpu_temperature(&readings)
}

/// One temperature sensor, as read.
#[derive(Debug, Clone, PartialEq)]
pub struct SensorReading {
    pub label: String,
    pub temperature_c: Option<f32>,
    pub critical_c: Option<f32>,
}

/// Labels of sensors that measure the CPU package or its cores: Intel's
/// coretemp ("Package id 0", "Core 3"), AMD's k10temp/zenpower ("Tctl",
/// "Tdie", "Tccd1"), ARM boards' "cpu_thermal", macOS's "CPU ...".
const CPU_LABELS: &[&str] = &[
    "package", "core", "tctl", "tdie", "tccd", "cpu", "k10temp", "zenpower", "coretemp", "soc",
];

/// The hottest CPU sensor among `readings` and its critical temperature;
/// other sensors (GPU, NVMe, Wi-Fi) and nonsense values are left out.
pub fn cpu_temperature(readings: &[SensorReading]) -> (Option<f32>, Option<f32>) {
    readings
        .iter()
        .filter(|r| {
            let label = r.label.to_ascii_lowercase();
            CPU_LABELS.iter().any(|l| label.contains(l)) && !label.contains("gpu")
        })
        .filter_map(|r| {
            let t = r
                .temperature_c
                .filter(|t| t.is_finite() && *t > 0.0 && *t < 150.0)?;
            Some((t, r.critical_c.filter(|c| c.is_finite() && *c > 0.0)))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map_or((None, None), |(t, c)| (Some(t), c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sensor(label: &str, t: Option<f32>, c: Option<f32>) -> SensorReading {
        SensorReading {
            label: label.into(),
            temperature_c: t,
            critical_c: c,
        }
    }

    #[test]
    fn hottest_cpu_sensor_wins_and_others_are_ignored() {
        let readings = [
            sensor("coretemp Package id 0", Some(61.0), Some(100.0)),
            sensor("coretemp Core 2", Some(67.5), Some(100.0)),
            sensor("nvme Composite", Some(80.0), None),
            sensor("amdgpu edge", Some(90.0), None),
            sensor("coretemp Core 3", Some(f32::NAN), None),
        ];
        assert_eq!(cpu_temperature(&readings), (Some(67.5), Some(100.0)));
        assert_eq!(
            cpu_temperature(&[sensor("acpitz", Some(40.0), None)]),
            (None, None)
        );
        assert_eq!(cpu_temperature(&[]), (None, None));
    }

    #[test]
    fn a_container_limit_lowers_what_is_available() {
        let gib = 1u64 << 30;
        let r = ram_with_limits(64 * gib, 40 * gib, 0, Some((8 * gib, 6 * gib)));
        assert_eq!(r.available_bytes, 6 * gib);
        assert_eq!(r.cgroup_limit_bytes, Some(8 * gib));
        // An unlimited cgroup reports a limit at or above the machine's RAM.
        let r = ram_with_limits(64 * gib, 40 * gib, 0, Some((u64::MAX, u64::MAX)));
        assert_eq!((r.available_bytes, r.cgroup_limit_bytes), (40 * gib, None));
    }

    #[test]
    fn reading_this_machine_gives_plausible_figures() {
        let cpu = CpuInfo::read();
        assert!(cpu.logical_cores >= 1);
        let ram = RamInfo::read();
        assert!(ram.total_bytes > 0 && ram.available_bytes <= ram.total_bytes);
    }
}
