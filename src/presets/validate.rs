//! Range and name checks shared by every layer: the built-in file, the
//! user's overlay, stored rows after `set`, and command-line values. A bad
//! value is caught where it enters, never at render time.

use super::names::{SAMPLERS, SCHEDULERS};
use super::{Params, Preset, Refiner};

/// The first problem found, as (key, message).
pub(crate) type Problem = (String, String);

pub(crate) fn validate(p: &Preset) -> Result<(), Problem> {
    int("steps", p.steps, 1, 150)?;
    float("cfg_scale", p.cfg_scale, 0.0, 30.0)?;
    known("sampler", &p.sampler, SAMPLERS)?;
    known("scheduler", &p.scheduler, SCHEDULERS)?;
    params(&p.model_specific_params)?;
    if let Some(r) = &p.model_specific_params.refiner {
        refiner(r, p.steps)?;
    }
    Ok(())
}

fn params(m: &Params) -> Result<(), Problem> {
    size("width", m.width)?;
    size("height", m.height)?;
    opt_int("clip_skip", m.clip_skip, 1, 12)?;
    opt_float("guidance", m.guidance, 0.0, 30.0)?;
    opt_float("max_shift", m.max_shift, 0.0, 20.0)?;
    opt_float("base_shift", m.base_shift, 0.0, 20.0)?;
    opt_float("shift", m.shift, 0.0, 20.0)?;
    opt_int("video_fps", m.video_fps, 1, 120)?;
    opt_int("video_frames", m.video_frames, 1, 1024)?;
    if let Some(d) = m.denoise.filter(|d| *d <= 0.0 || *d > 1.0 || d.is_nan()) {
        return Err(problem(
            "denoise",
            format!("{d} must be above 0 and at most 1"),
        ));
    }
    pattern("requires_vae", m.requires_vae.as_deref())?;
    pattern("lightning_lora", m.lightning_lora.as_deref())?;
    m.text_encoders
        .iter()
        .try_for_each(|t| pattern("text_encoders", Some(t)))
}

fn refiner(r: &Refiner, steps: u32) -> Result<(), Problem> {
    if !(r.switch_at > 0.0 && r.switch_at < 1.0) {
        return Err(problem(
            "refiner.switch_at",
            format!("{} must be between 0 and 1", r.switch_at),
        ));
    }
    if r.base_steps == 0 || r.base_steps + r.refiner_steps != steps {
        return Err(problem(
            "refiner",
            format!(
                "base_steps {} + refiner_steps {} must equal steps {steps}, base_steps at least 1",
                r.base_steps, r.refiner_steps
            ),
        ));
    }
    let share = f64::from(r.base_steps) / f64::from(steps);
    if (share - r.switch_at).abs() > 0.05 + 0.5 / f64::from(steps) {
        return Err(problem(
            "refiner.switch_at",
            format!(
                "{} does not match base_steps {} of {steps}",
                r.switch_at, r.base_steps
            ),
        ));
    }
    pattern("refiner.model", Some(&r.model))
}

fn problem(key: &str, message: String) -> Problem {
    (key.to_string(), message)
}

fn int(key: &str, v: u32, lo: u32, hi: u32) -> Result<(), Problem> {
    if (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(problem(key, format!("{v} is out of range {lo}..={hi}")))
    }
}

fn opt_int(key: &str, v: Option<u32>, lo: u32, hi: u32) -> Result<(), Problem> {
    v.map_or(Ok(()), |v| int(key, v, lo, hi))
}

fn float(key: &str, v: f64, lo: f64, hi: f64) -> Result<(), Problem> {
    if (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(problem(key, format!("{v} is out of range {lo}..={hi}")))
    }
}

fn opt_float(key: &str, v: Option<f64>, lo: f64, hi: f64) -> Result<(), Problem> {
    v.map_or(Ok(()), |v| float(key, v, lo, hi))
}

fn size(key: &str, v: u32) -> Result<(), Problem> {
    int(key, v, 64, 4096)?;
    if !v.is_multiple_of(8) {
        return Err(problem(key, format!("{v} is not a multiple of 8")));
    }
    Ok(())
}

fn known(key: &str, v: &str, names: &[&str]) -> Result<(), Problem> {
    if names.contains(&v) {
        Ok(())
    } else {
        Err(problem(
            key,
            format!("unknown name '{v}' (known: {})", names.join(", ")),
        ))
    }
}

fn pattern(key: &str, v: Option<&str>) -> Result<(), Problem> {
    match v {
        Some(p) if p.split('|').any(|alt| alt.trim().is_empty()) => Err(problem(
            key,
            format!("pattern '{p}' has an empty alternative"),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Base;
    use crate::presets::{Level, PresetTable};

    fn sdxl_ultra() -> Preset {
        PresetTable::builtin()
            .unwrap()
            .get(Base::Sdxl, Level::Ultra)
            .clone()
    }

    fn key_of(p: &Preset) -> String {
        validate(p).unwrap_err().0
    }

    #[test]
    fn each_range_is_enforced() {
        let mut p = sdxl_ultra();
        p.steps = 151;
        assert_eq!(key_of(&p), "steps");
        let mut p = sdxl_ultra();
        p.cfg_scale = 30.5;
        assert_eq!(key_of(&p), "cfg_scale");
        let mut p = sdxl_ultra();
        p.model_specific_params.width = 1020;
        assert_eq!(
            validate(&p).unwrap_err(),
            ("width".into(), "1020 is not a multiple of 8".into())
        );
        let mut p = sdxl_ultra();
        p.model_specific_params.height = 8192;
        assert_eq!(key_of(&p), "height");
        let mut p = sdxl_ultra();
        p.model_specific_params.clip_skip = Some(0);
        assert_eq!(key_of(&p), "clip_skip");
        let mut p = sdxl_ultra();
        p.model_specific_params.denoise = Some(0.0);
        assert_eq!(key_of(&p), "denoise");
        let mut p = sdxl_ultra();
        p.sampler = "dpm++".into();
        assert_eq!(key_of(&p), "sampler");
        let mut p = sdxl_ultra();
        p.scheduler = "Karras".into();
        assert_eq!(key_of(&p), "scheduler");
        let mut p = sdxl_ultra();
        p.model_specific_params.requires_vae = Some("ae.*|".into());
        assert_eq!(key_of(&p), "requires_vae");
    }

    #[test]
    fn refiner_must_add_up() {
        let mut p = sdxl_ultra();
        assert!(validate(&p).is_ok());
        p.steps = 50;
        assert_eq!(key_of(&p), "refiner");
        p.set_steps(50);
        assert!(validate(&p).is_ok());
        p.model_specific_params.refiner.as_mut().unwrap().switch_at = 0.5;
        assert_eq!(key_of(&p), "refiner.switch_at");
    }
}
