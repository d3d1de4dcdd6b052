//! Thermal throttling during a long run.
//!
//! A render of many images can heat a GPU or a CPU until its clocks drop,
//! and the only visible sign is that it gets slower. The renderer calls
//! [`ThermalWatcher::poll`] between sampling steps; it reads the sensors at
//! most every few seconds and returns one warning, the first time throttling
//! is seen in the run. The decision ([`ThrottleAlarm`]) is separate from the
//! reading so it can be tested with made-up readings.

use std::path::Path;
use std::time::{Duration, Instant};

use nvml_wrapper::Nvml;
use sysinfo::Components;

use super::cpu::{SensorReading, cpu_temperature};
use super::gpu::{self, ThrottleReason};

/// One GPU's state at a moment.
#[derive(Debug, Clone, PartialEq)]
pub struct GpuThermal {
    pub index: u32,
    pub name: String,
    pub reasons: Vec<ThrottleReason>,
    pub temperature_c: Option<u32>,
}

/// The sensors at a moment.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ThermalReading {
    pub gpus: Vec<GpuThermal>,
    /// The hottest CPU sensor and its critical temperature.
    pub cpu_c: Option<f32>,
    pub cpu_critical_c: Option<f32>,
}

/// A CPU with no reported critical point is taken to throttle from here:
/// Intel's and AMD's desktop parts slow down at 95–100 °C (TjMax / Tctl max).
pub const CPU_HOT_C: f32 = 95.0;
/// With a reported critical point, this far below it counts as throttling
/// (the firmware starts slowing the clocks before the critical trip).
pub const CPU_MARGIN_C: f32 = 5.0;

/// What is throttling in `reading`, as a sentence, or `None`.
pub fn throttling(reading: &ThermalReading) -> Option<String> {
    for g in &reading.gpus {
        let thermal: Vec<&str> = g
            .reasons
            .iter()
            .filter(|r| r.is_thermal())
            .map(|r| r.as_str())
            .collect();
        if !thermal.is_empty() {
            let temp = g
                .temperature_c
                .map(|t| format!(" at {t} °C"))
                .unwrap_or_default();
            return Some(format!(
                "GPU {} ({}) is throttling{temp}: {}; rendering will be slower — check its cooling",
                g.index,
                g.name,
                thermal.join(", ")
            ));
        }
    }
    let cpu = reading.cpu_c?;
    let limit = reading
        .cpu_critical_c
        .map_or(CPU_HOT_C, |c| c - CPU_MARGIN_C);
    (cpu >= limit).then(|| {
        format!(
            "the CPU is at {cpu:.0} °C and is likely throttling; rendering will be slower — check its cooling"
        )
    })
}

/// Says it once: the first reading that shows throttling gets the warning,
/// every later one is silent (a long run should not repeat it each step).
#[derive(Debug, Default)]
pub struct ThrottleAlarm {
    warned: bool,
}

impl ThrottleAlarm {
    pub fn observe(&mut self, reading: &ThermalReading) -> Option<String> {
        if self.warned {
            return None;
        }
        let warning = throttling(reading)?;
        self.warned = true;
        Some(warning)
    }
}

/// Reads the sensors and feeds a [`ThrottleAlarm`], at most once per
/// interval. Holds NVML (if the driver is there) and sysinfo's components.
pub struct ThermalWatcher {
    nvml: Option<Nvml>,
    components: Option<Components>,
    alarm: ThrottleAlarm,
    interval: Duration,
    last: Option<Instant>,
}

impl ThermalWatcher {
    /// Default interval between readings: NVML and hwmon reads take well
    /// under a millisecond, but there is no need to read them every step.
    pub const INTERVAL: Duration = Duration::from_secs(5);

    /// `nvml_library` as in [`super::SystemInfo::read`] (the settings'
    /// `nvml_library`).
    pub fn new(nvml_library: Option<&Path>) -> ThermalWatcher {
        ThermalWatcher {
            nvml: gpu::open(nvml_library).ok(),
            components: Components::new_with_refreshed_list().ok(),
            alarm: ThrottleAlarm::default(),
            interval: Self::INTERVAL,
            last: None,
        }
    }

    /// Call between steps: a warning the first time throttling is seen.
    pub fn poll(&mut self) -> Option<String> {
        self.poll_at(Instant::now())
    }

    /// [`poll`](Self::poll) with the clock passed in.
    pub fn poll_at(&mut self, now: Instant) -> Option<String> {
        if self
            .last
            .is_some_and(|last| now.duration_since(last) < self.interval)
        {
            return None;
        }
        self.last = Some(now);
        let reading = self.read();
        self.alarm.observe(&reading)
    }

    fn read(&mut self) -> ThermalReading {
        let gpus = self
            .nvml
            .as_ref()
            .map(gpu::thermal_readings)
            .unwrap_or_default();
        let (cpu_c, cpu_critical_c) = match self.components.as_mut() {
            Some(c) => {
                c.refresh(false);
                let readings: Vec<SensorReading> = c
                    .iter()
                    .map(|s| SensorReading {
                        label: s.label().to_string(),
                        temperature_c: s.temperature(),
                        critical_c: s.critical(),
                    })
                    .collect();
                cpu_temperature(&readings)
            }
            None => (None, None),
        };
        ThermalReading {
            gpus,
            cpu_c,
            cpu_critical_c,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gpu(reasons: &[ThrottleReason], t: Option<u32>) -> ThermalReading {
        ThermalReading {
            gpus: vec![GpuThermal {
                index: 0,
                name: "NVIDIA GeForce RTX 4090".into(),
                reasons: reasons.to_vec(),
                temperature_c: t,
            }],
            ..Default::default()
        }
    }

    fn cpu(t: f32, critical: Option<f32>) -> ThermalReading {
        ThermalReading {
            cpu_c: Some(t),
            cpu_critical_c: critical,
            ..Default::default()
        }
    }

    #[test]
    fn only_heat_counts_as_throttling() {
        assert_eq!(throttling(&ThermalReading::default()), None);
        // Idle clocks and the power cap are normal under load.
        assert_eq!(
            throttling(&gpu(
                &[ThrottleReason::GpuIdle, ThrottleReason::SwPowerCap],
                Some(70)
            )),
            None
        );
        let w = throttling(&gpu(
            &[
                ThrottleReason::SwPowerCap,
                ThrottleReason::HwThermalSlowdown,
            ],
            Some(91),
        ))
        .unwrap();
        assert!(w.contains("GPU 0 (NVIDIA GeForce RTX 4090)"), "{w}");
        assert!(
            w.contains("91 °C") && w.contains("thermal (hardware)"),
            "{w}"
        );
        assert!(!w.contains("power cap"), "{w}");
        assert!(throttling(&gpu(&[ThrottleReason::SwThermalSlowdown], None)).is_some());
    }

    #[test]
    fn cpu_threshold_follows_its_critical_point() {
        assert_eq!(throttling(&cpu(80.0, None)), None);
        assert!(throttling(&cpu(96.0, None)).unwrap().contains("96 °C"));
        assert_eq!(throttling(&cpu(79.0, Some(85.0))), None);
        assert!(throttling(&cpu(81.0, Some(85.0))).is_some());
    }

    #[test]
    fn the_alarm_warns_once_per_run() {
        let mut alarm = ThrottleAlarm::default();
        let cool = gpu(&[ThrottleReason::SwPowerCap], Some(70));
        let hot = gpu(&[ThrottleReason::SwThermalSlowdown], Some(88));
        assert_eq!(alarm.observe(&cool), None);
        assert!(alarm.observe(&hot).is_some());
        assert_eq!(alarm.observe(&hot), None);
        assert_eq!(alarm.observe(&cool), None);
        assert_eq!(alarm.observe(&cpu(99.0, None)), None);
    }

    #[test]
    fn the_watcher_reads_at_most_once_per_interval() {
        let mut w = ThermalWatcher {
            nvml: None,
            components: None,
            alarm: ThrottleAlarm::default(),
            interval: Duration::from_secs(5),
            last: None,
        };
        let t0 = Instant::now();
        assert_eq!(w.poll_at(t0), None);
        assert_eq!(w.last, Some(t0));
        w.poll_at(t0 + Duration::from_secs(1));
        assert_eq!(w.last, Some(t0), "too soon: no new reading");
        w.poll_at(t0 + Duration::from_secs(6));
        assert_eq!(w.last, Some(t0 + Duration::from_secs(6)));
    }
}
