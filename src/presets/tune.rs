//! The population rule: a model's four rows are its base model's presets,
//! tuned by what its CivitAI example images were made with. A fine-tune's
//! author knows its CFG, sampler and clip skip better than its family's
//! defaults do, but one odd example image should not make a preset absurd,
//! so every value taken is clamped and the family's shape is kept.
//!
//! The rule (also in presets.toml's header):
//! - steps: balanced takes the examples' median steps, clamped to the base
//!   preset's [fast, ultra] steps; the other levels scale by the same factor
//!   (rounded); fast is then pulled back within 2-4x of high, and balanced
//!   kept between fast and high, ultra at or above high;
//! - CFG: the median, clamped to 1..=15, on every level whose CFG is above 1;
//!   on guidance-distilled families (Flux: CFG 1 and a `guidance`), the
//!   median is CivitAI's report of the guidance and replaces it, clamped to
//!   1..=10, unless it is below 1.5 (a ComfyUI "CFG 1");
//! - sampler: the most used one, when recognised (ComfyUI or A1111 name); the
//!   scheduler from its A1111 suffix ("Karras"), else the most used
//!   scheduler reported, else the preset's;
//! - clip skip: the most used value, on families whose presets have one;
//! - levels with a lightning LoRA keep their values (they belong to the
//!   LoRA), and sizes are never tuned: examples are mostly portrait crops,
//!   which say more about what people post than about the model.
//!
//! Models of unknown base get no rows.

use serde::{Deserialize, Serialize};

use super::names::{parse_sampler, parse_scheduler};
use super::{Level, Preset, PresetTable};
use crate::catalog::metadata::ExampleParams;
use crate::catalog::{Base, CatalogEntry};

/// What a model's CivitAI example images were generated with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExampleStats {
    /// Example images that carried generation parameters.
    pub count: u32,
    pub steps_median: Option<u32>,
    pub cfg_median: Option<f64>,
    /// The most used sampler, as written (A1111 or ComfyUI name).
    pub sampler_mode: Option<String>,
    pub scheduler_mode: Option<String>,
    pub clip_skip_mode: Option<u32>,
}

/// The catalogue summarises CivitAI's example images once (see
/// `catalog::metadata::example_params`); tuning reads that summary.
impl From<&ExampleParams> for ExampleStats {
    fn from(p: &ExampleParams) -> ExampleStats {
        ExampleStats {
            count: p.count,
            steps_median: p.steps,
            cfg_median: p.cfg,
            sampler_mode: p.sampler.clone(),
            scheduler_mode: p.scheduler.clone(),
            clip_skip_mode: p.clip_skip,
        }
    }
}

/// A model's four rows, fast to ultra, and a note of what tuned them.
#[derive(Debug, Clone, PartialEq)]
pub struct Tuned {
    pub presets: [Preset; 4],
    pub origin: String,
}

/// The rows for `entry`: its base presets tuned by `stats` (see the module
/// doc); `None` for a model of unknown base.
pub fn tune(
    table: &PresetTable,
    entry: &CatalogEntry,
    stats: Option<&ExampleStats>,
) -> Option<Tuned> {
    if entry.base == Base::Unknown {
        return None;
    }
    let mut rows = Level::ALL.map(|l| table.get(entry.base, l).clone());
    let Some(stats) = stats.filter(|s| s.count > 0) else {
        return Some(Tuned {
            presets: rows,
            origin: "base preset".into(),
        });
    };
    let mut used = Vec::new();
    if let Some(m) = stats.steps_median.filter(|m| *m > 0) {
        tune_steps(&mut rows, m);
        used.push("steps");
    }
    if let Some(c) = stats.cfg_median {
        used.extend(tune_cfg(&mut rows, c));
    }
    if let Some((sampler, schedule)) = stats.sampler_mode.as_deref().and_then(parse_sampler) {
        let schedule =
            schedule.or_else(|| stats.scheduler_mode.as_deref().and_then(parse_scheduler));
        tunable(&mut rows).for_each(|p| {
            p.sampler = sampler.to_string();
            if let Some(s) = schedule {
                p.scheduler = s.to_string();
            }
        });
        used.push("sampler");
    }
    if let Some(c) = stats.clip_skip_mode.filter(|c| (1..=12).contains(c)) {
        let mut any = false;
        for p in tunable(&mut rows).filter(|p| p.model_specific_params.clip_skip.is_some()) {
            p.model_specific_params.clip_skip = Some(c);
            any = true;
        }
        if any {
            used.push("clip skip");
        }
    }
    let origin = match used.is_empty() {
        true => "base preset".to_string(),
        false => format!(
            "base preset tuned by CivitAI ({} example images: {})",
            stats.count,
            used.join(", ")
        ),
    };
    Some(Tuned {
        presets: rows,
        origin,
    })
}

/// Levels not tied to a lightning LoRA.
fn tunable(rows: &mut [Preset; 4]) -> impl Iterator<Item = &mut Preset> {
    rows.iter_mut()
        .filter(|p| p.model_specific_params.lightning_lora.is_none())
}

fn tune_steps(rows: &mut [Preset; 4], median: u32) {
    let target = median.clamp(rows[0].steps, rows[3].steps);
    let factor = f64::from(target) / f64::from(rows[1].steps);
    for p in tunable(rows) {
        let steps = (f64::from(p.steps) * factor).round() as u32;
        p.set_steps(steps.clamp(1, 150));
    }
    keep_speed_ratio(rows);
}

/// Fast within 2-4x fewer steps than high, and steps rising with level.
fn keep_speed_ratio(rows: &mut [Preset; 4]) {
    let [fast, balanced, high, ultra] = rows;
    if fast.model_specific_params.lightning_lora.is_some() {
        high.set_steps(high.steps.clamp(2 * fast.steps, 4 * fast.steps));
    } else {
        fast.set_steps(
            fast.steps
                .clamp(high.steps.div_ceil(4), (high.steps / 2).max(1)),
        );
    }
    balanced.set_steps(balanced.steps.clamp(fast.steps, high.steps));
    ultra.set_steps(ultra.steps.max(high.steps));
}

/// Applies the CFG median; says which value it tuned, if any.
fn tune_cfg(rows: &mut [Preset; 4], median: f64) -> Option<&'static str> {
    let mut tuned = None;
    for p in tunable(rows) {
        if p.cfg_scale > 1.0 {
            p.cfg_scale = median.clamp(1.0, 15.0);
            tuned = Some("cfg");
        } else if p.model_specific_params.guidance.is_some() && median >= 1.5 {
            p.model_specific_params.guidance = Some(median.clamp(1.0, 10.0));
            tuned = Some("guidance");
        }
    }
    tuned
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Kind;
    use crate::presets::required::tests::entry;
    use crate::presets::validate::validate;

    fn table() -> PresetTable {
        PresetTable::builtin().unwrap()
    }

    fn stats(steps: u32, cfg: f64, sampler: &str, clip: Option<u32>) -> ExampleStats {
        ExampleStats {
            count: 5,
            steps_median: Some(steps),
            cfg_median: Some(cfg),
            sampler_mode: Some(sampler.into()),
            scheduler_mode: None,
            clip_skip_mode: clip,
        }
    }

    fn steps(t: &Tuned) -> Vec<u32> {
        t.presets.iter().map(|p| p.steps).collect()
    }

    #[test]
    fn stats_come_from_civitai_example_images() {
        // Shaped like samples/civitai/by-hash_pony-checkpoint_pony-v6.json, plus two more images.
        let images = serde_json::json!([
            {"meta": {"Size": "832x1216", "steps": 25, "sampler": "Euler a", "cfgScale": 7, "Clip skip": 2}},
            {"meta": {"steps": "30", "sampler": "Euler a", "cfgScale": 6, "Clip skip": "2"}},
            {"meta": {"steps": 20, "sampler": "DPM++ 2M Karras", "cfgScale": 8, "scheduler": "karras"}},
            {"meta": null},
            {"url": "no meta"}
        ]);
        let p = crate::catalog::metadata::example_params(images.as_array().unwrap()).unwrap();
        let s = ExampleStats::from(&p);
        assert_eq!(
            s,
            ExampleStats {
                count: 3,
                steps_median: Some(25),
                cfg_median: Some(7.0),
                sampler_mode: Some("Euler a".into()),
                scheduler_mode: Some("karras".into()),
                clip_skip_mode: Some(2),
            }
        );
        assert!(crate::catalog::metadata::example_params(&[]).is_none());
    }

    #[test]
    fn without_stats_the_rows_are_the_base_presets() {
        let t = table();
        let e = entry(
            1,
            "/m/checkpoints/model.safetensors",
            Kind::Checkpoint,
            Base::Sdxl,
        );
        let tuned = tune(&t, &e, None).unwrap();
        assert_eq!(tuned.origin, "base preset");
        assert_eq!(tuned.presets[2], *t.get(Base::Sdxl, Level::High));
        let empty = ExampleStats::default();
        assert_eq!(tune(&t, &e, Some(&empty)).unwrap().origin, "base preset");
    }

    #[test]
    fn unknown_base_is_skipped() {
        let e = entry(
            1,
            "/m/checkpoints/mystery.safetensors",
            Kind::Checkpoint,
            Base::Unknown,
        );
        assert!(tune(&table(), &e, Some(&stats(30, 7.0, "Euler", None))).is_none());
    }

    #[test]
    fn civitai_median_steps_cfg_sampler_and_clip_skip_tune_an_sd15_model() {
        let e = entry(
            1,
            "/m/checkpoints/anime15.safetensors",
            Kind::Checkpoint,
            Base::Sd15,
        );
        let tuned = tune(
            &table(),
            &e,
            Some(&stats(30, 9.0, "DPM++ SDE Karras", Some(2))),
        )
        .unwrap();
        // Base 12/20/30/40, balanced 20 -> 30: factor 1.5.
        assert_eq!(steps(&tuned), [18, 30, 45, 60]);
        for p in &tuned.presets {
            assert_eq!(
                (p.cfg_scale, p.sampler.as_str(), p.scheduler.as_str()),
                (9.0, "dpmpp_sde", "karras")
            );
            assert_eq!(p.model_specific_params.clip_skip, Some(2));
            assert_eq!(p.model_specific_params.width, 512);
            assert!(validate(p).is_ok());
        }
        assert_eq!(
            tuned.origin,
            "base preset tuned by CivitAI (5 example images: steps, cfg, sampler, clip skip)"
        );
    }

    #[test]
    fn absurd_examples_are_clamped() {
        let e = entry(
            1,
            "/m/checkpoints/x.safetensors",
            Kind::Checkpoint,
            Base::Sdxl,
        );
        let tuned = tune(&table(), &e, Some(&stats(150, 40.0, "Restart", None))).unwrap();
        // Median clamped to ultra's 40: factor 40/25.
        assert_eq!(steps(&tuned), [19, 40, 56, 64]);
        assert_eq!(tuned.presets[1].cfg_scale, 15.0);
        assert_eq!(tuned.presets[1].sampler, "dpmpp_2m");
        let r = tuned.presets[3]
            .model_specific_params
            .refiner
            .clone()
            .unwrap();
        assert_eq!((r.base_steps, r.refiner_steps), (51, 13));
        tuned
            .presets
            .iter()
            .for_each(|p| assert!(validate(p).is_ok(), "{:?}", validate(p)));
        let tuned = tune(&table(), &e, Some(&stats(4, 1.5, "Euler", None))).unwrap();
        // Median clamped up to fast's 12: factor 12/25.
        assert_eq!(steps(&tuned), [6, 12, 17, 19]);
    }

    #[test]
    fn flux_reads_civitai_cfg_as_guidance() {
        let e = entry(
            1,
            "/m/diffusion_models/fluxmix.safetensors",
            Kind::DiffusionModel,
            Base::FluxDev,
        );
        let mut s = stats(26, 3.0, "Euler", None);
        s.scheduler_mode = Some("simple".into());
        let tuned = tune(&table(), &e, Some(&s)).unwrap();
        let p = &tuned.presets[1];
        assert_eq!(
            (p.steps, p.cfg_scale, p.model_specific_params.guidance),
            (26, 1.0, Some(3.0))
        );
        assert_eq!(
            (p.sampler.as_str(), p.scheduler.as_str()),
            ("euler", "simple")
        );
        let tuned = tune(&table(), &e, Some(&stats(20, 1.0, "Euler", None))).unwrap();
        assert_eq!(tuned.presets[1].model_specific_params.guidance, Some(3.5));
    }

    #[test]
    fn lightning_levels_keep_their_values_and_the_ratio_holds() {
        let e = entry(
            1,
            "/m/diffusion_models/wan21.safetensors",
            Kind::DiffusionModel,
            Base::Wan21,
        );
        let tuned = tune(&table(), &e, Some(&stats(40, 5.0, "DPM++ 2M", None))).unwrap();
        let fast = &tuned.presets[0];
        assert_eq!(
            (fast.steps, fast.cfg_scale, fast.sampler.as_str()),
            (8, 1.0, "euler")
        );
        // Base 8/20/30/50, balanced -> 40 (factor 2): high 60 capped at 4x fast.
        assert_eq!(steps(&tuned), [8, 32, 32, 100]);
        assert_eq!(tuned.presets[2].cfg_scale, 5.0);
    }

    #[test]
    fn fast_stays_two_to_four_times_quicker_for_every_base() {
        let t = table();
        for base in Base::ALL.iter().filter(|b| **b != Base::Unknown) {
            let e = entry(1, "/m/checkpoints/x.safetensors", Kind::Checkpoint, *base);
            for median in [1, 3, 7, 15, 27, 45, 80, 150] {
                let tuned = tune(&t, &e, Some(&stats(median, 7.0, "Euler", None))).unwrap();
                let s = steps(&tuned);
                assert!(
                    s[2] >= 2 * s[0] && s[2] <= 4 * s[0],
                    "{base} median {median}: {s:?}"
                );
                assert!(
                    s.windows(2).all(|w| w[0] <= w[1]),
                    "{base} median {median}: {s:?}"
                );
                tuned
                    .presets
                    .iter()
                    .for_each(|p| assert!(validate(p).is_ok(), "{base}: {:?}", validate(p)));
            }
        }
    }
}
