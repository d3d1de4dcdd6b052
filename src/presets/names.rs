//! Sampler and scheduler names. Presets store ComfyUI's names, the ones the
//! engine implements; A1111's ("DPM++ 2M Karras", "Euler a"), which CivitAI
//! example images and many users write, are translated here, including the
//! schedule A1111 folds into the sampler name.

/// ComfyUI's KSampler sampler names.
pub const SAMPLERS: &[&str] = &[
    "euler",
    "euler_cfg_pp",
    "euler_ancestral",
    "euler_ancestral_cfg_pp",
    "heun",
    "heunpp2",
    "dpm_2",
    "dpm_2_ancestral",
    "lms",
    "dpm_fast",
    "dpm_adaptive",
    "dpmpp_2s_ancestral",
    "dpmpp_2s_ancestral_cfg_pp",
    "dpmpp_sde",
    "dpmpp_sde_gpu",
    "dpmpp_2m",
    "dpmpp_2m_cfg_pp",
    "dpmpp_2m_sde",
    "dpmpp_2m_sde_gpu",
    "dpmpp_3m_sde",
    "dpmpp_3m_sde_gpu",
    "ddpm",
    "lcm",
    "ipndm",
    "ipndm_v",
    "deis",
    "res_multistep",
    "gradient_estimation",
    "er_sde",
    "ddim",
    "uni_pc",
    "uni_pc_bh2",
];

/// ComfyUI's scheduler names.
pub const SCHEDULERS: &[&str] = &[
    "normal",
    "karras",
    "exponential",
    "sgm_uniform",
    "simple",
    "ddim_uniform",
    "beta",
    "linear_quadratic",
    "kl_optimal",
];

/// A1111 sampler names (lowercase) and their ComfyUI equivalents.
const A1111_SAMPLERS: &[(&str, &str)] = &[
    ("euler", "euler"),
    ("euler a", "euler_ancestral"),
    ("heun", "heun"),
    ("dpm2", "dpm_2"),
    ("dpm2 a", "dpm_2_ancestral"),
    ("lms", "lms"),
    ("dpm fast", "dpm_fast"),
    ("dpm adaptive", "dpm_adaptive"),
    ("dpm++ 2s a", "dpmpp_2s_ancestral"),
    ("dpm++ sde", "dpmpp_sde"),
    ("dpm++ 2m", "dpmpp_2m"),
    ("dpm++ 2m sde", "dpmpp_2m_sde"),
    ("dpm++ 3m sde", "dpmpp_3m_sde"),
    ("ddim", "ddim"),
    ("ddpm", "ddpm"),
    ("lcm", "lcm"),
    ("unipc", "uni_pc"),
    ("ipndm", "ipndm"),
    ("deis", "deis"),
];

/// A1111 schedule suffixes (lowercase, with their leading space).
const A1111_SCHEDULES: &[(&str, &str)] = &[
    (" karras", "karras"),
    (" exponential", "exponential"),
    (" sgm uniform", "sgm_uniform"),
    (" beta", "beta"),
];

/// The ComfyUI sampler, and the scheduler when the name carries one, for a
/// ComfyUI or A1111 sampler name; `None` if it is neither.
pub fn parse_sampler(name: &str) -> Option<(&'static str, Option<&'static str>)> {
    let lower = name.trim().to_ascii_lowercase();
    if let Some(s) = SAMPLERS.iter().find(|s| **s == lower) {
        return Some((s, None));
    }
    let (stem, schedule) = A1111_SCHEDULES
        .iter()
        .find_map(|(suffix, sched)| lower.strip_suffix(suffix).map(|stem| (stem, Some(*sched))))
        .unwrap_or((lower.as_str(), None));
    A1111_SAMPLERS
        .iter()
        .find(|(a, _)| *a == stem)
        .map(|(_, c)| (*c, schedule))
}

/// The ComfyUI scheduler for a ComfyUI or A1111 schedule name
/// ("Karras", "SGM Uniform", "sgm_uniform").
pub fn parse_scheduler(name: &str) -> Option<&'static str> {
    let key = name.trim().to_ascii_lowercase().replace(' ', "_");
    SCHEDULERS.iter().find(|s| **s == key).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a1111_names_translate_with_their_schedule() {
        assert_eq!(
            parse_sampler("DPM++ 2M Karras"),
            Some(("dpmpp_2m", Some("karras")))
        );
        assert_eq!(parse_sampler("Euler a"), Some(("euler_ancestral", None)));
        assert_eq!(
            parse_sampler("DPM++ 2M SDE Exponential"),
            Some(("dpmpp_2m_sde", Some("exponential")))
        );
        assert_eq!(parse_sampler("UniPC"), Some(("uni_pc", None)));
        assert_eq!(
            parse_sampler("euler_ancestral"),
            Some(("euler_ancestral", None))
        );
        assert_eq!(parse_sampler("Euler"), Some(("euler", None)));
        assert_eq!(parse_sampler("Restart"), None);
        assert_eq!(parse_sampler("karras"), None);
    }

    #[test]
    fn schedulers_accept_both_spellings() {
        assert_eq!(parse_scheduler("SGM Uniform"), Some("sgm_uniform"));
        assert_eq!(parse_scheduler("simple"), Some("simple"));
        assert_eq!(parse_scheduler("Automatic"), None);
    }
}
