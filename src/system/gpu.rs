//! NVIDIA GPUs through NVML (nvml-wrapper).
//!
//! libnvidia-ml is loaded at run time, not linked, so the same binary runs on
//! machines with and without the driver. Its absence is an answer ("no
//! NVIDIA driver found"), never an error; so is any single reading a GPU
//! does not support (fan speed on a passively cooled card, power on some
//! laptops), which is simply left out.

use std::ffi::OsStr;
use std::path::Path;

use nvml_wrapper::Nvml;
use nvml_wrapper::enum_wrappers::device::TemperatureSensor;
use nvml_wrapper::error::NvmlError;
use serde::Serialize;

use super::thermal::GpuThermal;

/// One NVIDIA GPU as NVML sees it. Readings a GPU does not support are
/// `None`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GpuInfo {
    pub index: u32,
    pub name: String,
    pub uuid: Option<String>,
    pub memory_total: u64,
    pub memory_used: u64,
    pub memory_free: u64,
    /// Percent of time a kernel was running over the last sample period.
    pub utilisation_percent: Option<u32>,
    /// Percent of time device memory was read or written.
    pub memory_utilisation_percent: Option<u32>,
    pub temperature_c: Option<u32>,
    pub power_watts: Option<f64>,
    pub power_limit_watts: Option<f64>,
    /// Speed of the first fan, in percent of its maximum.
    pub fan_percent: Option<u32>,
    /// Why the clocks are below their maximum right now (empty: they are not).
    pub throttle_reasons: Vec<ThrottleReason>,
}

/// What NVML said about this machine.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NvidiaInfo {
    /// NVML was loaded and initialised.
    pub driver_found: bool,
    pub driver_version: Option<String>,
    /// The CUDA version the driver supports, e.g. "12.4".
    pub cuda_version: Option<String>,
    pub gpus: Vec<GpuInfo>,
    /// A sentence for people: why there are no GPUs, or what failed.
    pub note: Option<String>,
}

/// NVML's clock throttle reasons (`nvmlClocksThrottleReason*` in nvml.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ThrottleReason {
    GpuIdle,
    ApplicationsClocksSetting,
    SwPowerCap,
    HwSlowdown,
    SyncBoost,
    SwThermalSlowdown,
    HwThermalSlowdown,
    HwPowerBrakeSlowdown,
    DisplayClockSetting,
}

impl ThrottleReason {
    /// Bit values from nvml.h.
    const BITS: &[(u64, ThrottleReason)] = &[
        (0x1, ThrottleReason::GpuIdle),
        (0x2, ThrottleReason::ApplicationsClocksSetting),
        (0x4, ThrottleReason::SwPowerCap),
        (0x8, ThrottleReason::HwSlowdown),
        (0x10, ThrottleReason::SyncBoost),
        (0x20, ThrottleReason::SwThermalSlowdown),
        (0x40, ThrottleReason::HwThermalSlowdown),
        (0x80, ThrottleReason::HwPowerBrakeSlowdown),
        (0x100, ThrottleReason::DisplayClockSetting),
    ];

    /// The reasons set in NVML's bit mask; unknown bits are ignored.
    pub fn from_bits(bits: u64) -> Vec<ThrottleReason> {
        Self::BITS
            .iter()
            .filter(|(bit, _)| bits & bit != 0)
            .map(|(_, r)| *r)
            .collect()
    }

    /// Heat is slowing the GPU down (as opposed to idling or a power cap,
    /// which are normal). NVML's hardware slowdown is counted: it fires on
    /// overheating and on power-supply alarms, both worth a warning.
    pub fn is_thermal(self) -> bool {
        matches!(
            self,
            ThrottleReason::SwThermalSlowdown
                | ThrottleReason::HwThermalSlowdown
                | ThrottleReason::HwSlowdown
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ThrottleReason::GpuIdle => "idle",
            ThrottleReason::ApplicationsClocksSetting => "application clocks",
            ThrottleReason::SwPowerCap => "power cap",
            ThrottleReason::HwSlowdown => "hardware slowdown",
            ThrottleReason::SyncBoost => "sync boost",
            ThrottleReason::SwThermalSlowdown => "thermal (software)",
            ThrottleReason::HwThermalSlowdown => "thermal (hardware)",
            ThrottleReason::HwPowerBrakeSlowdown => "power brake",
            ThrottleReason::DisplayClockSetting => "display clocks",
        }
    }
}

/// The libraries tried when no path is given: the driver's soname, the
/// development symlink, and where WSL puts it.
#[cfg(target_os = "linux")]
const DEFAULT_LIBRARIES: &[&str] = &[
    "libnvidia-ml.so.1",
    "libnvidia-ml.so",
    "/usr/lib/wsl/lib/libnvidia-ml.so.1",
];
#[cfg(windows)]
const DEFAULT_LIBRARIES: &[&str] = &["nvml.dll"];
#[cfg(not(any(target_os = "linux", windows)))]
const DEFAULT_LIBRARIES: &[&str] = &[];

/// Loads and initialises NVML from `library`, or from the usual places.
/// The error is a sentence for people.
pub fn open(library: Option<&Path>) -> Result<Nvml, String> {
    let candidates: Vec<&OsStr> = match library {
        Some(p) => vec![p.as_os_str()],
        None => DEFAULT_LIBRARIES.iter().map(OsStr::new).collect(),
    };
    if candidates.is_empty() {
        return Err("no NVIDIA driver found (NVML does not exist on this platform)".into());
    }
    let mut first_error = None;
    for lib in &candidates {
        match Nvml::builder().lib_path(lib).init() {
            Ok(nvml) => return Ok(nvml),
            Err(e) => {
                let missing = matches!(e, NvmlError::LibloadingError(_));
                let sentence = describe_init_error(&e, lib);
                if !missing {
                    // The library is there but refused: that is the answer.
                    return Err(sentence);
                }
                first_error.get_or_insert(sentence);
            }
        }
    }
    Err(first_error.unwrap_or_else(|| "no NVIDIA driver found".into()))
}

/// A sentence for people about why NVML could not be started.
pub fn describe_init_error(e: &NvmlError, library: &OsStr) -> String {
    match e {
        NvmlError::LibloadingError(_) => format!(
            "no NVIDIA driver found ({} could not be loaded)",
            library.to_string_lossy()
        ),
        NvmlError::DriverNotLoaded => {
            "no NVIDIA driver found (NVML is installed but the driver is not running)".into()
        }
        NvmlError::NoPermission => "the NVIDIA driver refused access (no permission)".into(),
        NvmlError::FailedToLoadSymbol(s) => {
            format!("the NVIDIA driver is too old for this gen (NVML lacks {s})")
        }
        other => format!("NVML could not start: {other}"),
    }
}

/// Reads every NVIDIA GPU. Never fails: without a driver the answer says so.
pub fn read(library: Option<&Path>) -> NvidiaInfo {
    match open(library) {
        Ok(nvml) => read_with(&nvml),
        Err(note) => NvidiaInfo {
            driver_found: false,
            driver_version: None,
            cuda_version: None,
            gpus: Vec::new(),
            note: Some(note),
        },
    }
}

/// Reads every GPU of an open NVML.
pub fn read_with(nvml: &Nvml) -> NvidiaInfo {
    let driver_version = nvml.sys_driver_version().ok();
    let cuda_version = nvml
        .sys_cuda_driver_version()
        .ok()
        .map(|v| format!("{}.{}", v / 1000, (v % 1000) / 10));
    let (gpus, note) = match nvml.device_count() {
        Ok(0) => (
            Vec::new(),
            Some("the NVIDIA driver sees no GPU".to_string()),
        ),
        Ok(n) => {
            let mut gpus = Vec::new();
            let mut failed = Vec::new();
            for i in 0..n {
                match read_device(nvml, i) {
                    Ok(g) => gpus.push(g),
                    Err(e) => failed.push(format!("GPU {i}: {e}")),
                }
            }
            let note = (!failed.is_empty()).then(|| failed.join("; "));
            (gpus, note)
        }
        Err(e) => (Vec::new(), Some(format!("NVML cannot count GPUs: {e}"))),
    };
    NvidiaInfo {
        driver_found: true,
        driver_version,
        cuda_version,
        gpus,
        note,
    }
}

fn read_device(nvml: &Nvml, index: u32) -> Result<GpuInfo, NvmlError> {
    let d = nvml.device_by_index(index)?;
    let memory = d.memory_info()?;
    let utilisation = d.utilization_rates().ok();
    let fan_percent = match d.num_fans() {
        Ok(n) if n > 0 => d.fan_speed(0).ok(),
        _ => None,
    };
    Ok(GpuInfo {
        index,
        name: d.name()?,
        uuid: d.uuid().ok(),
        memory_total: memory.total,
        memory_used: memory.used,
        memory_free: memory.free,
        utilisation_percent: utilisation.as_ref().map(|u| u.gpu),
        memory_utilisation_percent: utilisation.as_ref().map(|u| u.memory),
        temperature_c: d.temperature(TemperatureSensor::Gpu).ok(),
        power_watts: d.power_usage().ok().map(|mw| f64::from(mw) / 1000.0),
        power_limit_watts: d
            .enforced_power_limit()
            .ok()
            .map(|mw| f64::from(mw) / 1000.0),
        fan_percent,
        throttle_reasons: d
            .current_throttle_reasons()
            .map(|r| ThrottleReason::from_bits(r.bits()))
            .unwrap_or_default(),
    })
}

/// The current throttle reasons and temperature of every GPU, for the
/// thermal watcher (cheaper than [`read_with`]).
pub fn thermal_readings(nvml: &Nvml) -> Vec<GpuThermal> {
    let n = nvml.device_count().unwrap_or(0);
    (0..n)
        .filter_map(|index| {
            let d = nvml.device_by_index(index).ok()?;
            Some(GpuThermal {
                index,
                name: d.name().unwrap_or_else(|_| format!("GPU {index}")),
                reasons: d
                    .current_throttle_reasons()
                    .map(|r| ThrottleReason::from_bits(r.bits()))
                    .unwrap_or_default(),
                temperature_c: d.temperature(TemperatureSensor::Gpu).ok(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_bits_decode_as_nvml_h_defines_them() {
        assert_eq!(ThrottleReason::from_bits(0), vec![]);
        assert_eq!(
            ThrottleReason::from_bits(0x1 | 0x4 | 0x40 | 0x8000),
            vec![
                ThrottleReason::GpuIdle,
                ThrottleReason::SwPowerCap,
                ThrottleReason::HwThermalSlowdown
            ]
        );
        let thermal: Vec<_> = ThrottleReason::BITS
            .iter()
            .filter(|(_, r)| r.is_thermal())
            .map(|(b, _)| *b)
            .collect();
        assert_eq!(thermal, vec![0x8, 0x20, 0x40]);
    }

    /// The path every machine without the NVIDIA driver takes (this
    /// project's build machine among them): an answer, not an error.
    #[test]
    fn a_missing_library_reads_as_no_driver() {
        let info = read(Some(Path::new("/nonexistent/libnvidia-ml.so.1")));
        assert!(!info.driver_found);
        assert!(info.gpus.is_empty());
        let note = info.note.unwrap();
        assert!(note.starts_with("no NVIDIA driver found"), "{note}");
        assert!(note.contains("/nonexistent/libnvidia-ml.so.1"), "{note}");
    }

    #[test]
    fn init_errors_read_as_sentences() {
        let lib = OsStr::new("libnvidia-ml.so.1");
        assert!(
            describe_init_error(&NvmlError::DriverNotLoaded, lib)
                .starts_with("no NVIDIA driver found")
        );
        assert!(describe_init_error(&NvmlError::NoPermission, lib).contains("permission"));
    }

    #[test]
    fn this_machine_reads_without_error_whatever_it_has() {
        let info = read(None);
        if info.driver_found {
            assert!(info.gpus.iter().all(|g| g.memory_total >= g.memory_free));
        } else {
            assert!(info.note.unwrap().contains("no NVIDIA driver found"));
        }
    }
}
