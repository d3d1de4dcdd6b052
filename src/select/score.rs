//! Scoring: which checkpoint fits the prompt's style best, and which LoRAs
//! share its concepts. Every score is a sum of named parts, so the plan can
//! say why; ties break by catalogue id so the same catalogue and prompt give
//! the same choice.
//!
//! Compatibility is a hard rule, not a score: a LoRA is only ever put on a
//! checkpoint of its own family (Pony and Illustrious are SDXL; Krea is
//! Flux dev), and a LoRA of unknown base is never chosen automatically.

use serde::Serialize;

use super::analysis::Analysis;
use crate::catalog::{Base, CatalogEntry};

/// What is known of a model beyond its header (CivitAI, sidecars).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Facts {
    pub tags: Vec<String>,
    pub trained_words: Vec<String>,
    pub downloads: u64,
    /// 0..=5 when known.
    pub rating: Option<f64>,
    pub thumbs_up: u64,
    /// The weight its author or user recommends (A1111 "preferred weight").
    pub preferred_weight: Option<f64>,
}

/// A catalogue entry with its effective base (metadata may refine the
/// probe's, e.g. to pony) and its facts.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub entry: CatalogEntry,
    pub base: Base,
    pub facts: Facts,
}

/// A scored choice with its reasons.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scored {
    pub id: i64,
    pub name: String,
    pub path: String,
    pub base: Base,
    pub score: f64,
    pub reasons: Vec<String>,
}

/// A LoRA chosen for a checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChosenLora {
    #[serde(flatten)]
    pub scored: Scored,
    pub weight: f64,
    pub trigger_words: Vec<String>,
}

/// Weight of a LoRA when nothing recommends one: strong enough to show,
/// weak enough that three stacked rarely break the image.
pub const DEFAULT_LORA_WEIGHT: f64 = 0.8;
/// At most this many LoRAs are added automatically.
pub const MAX_AUTO_LORAS: usize = 3;
/// A LoRA must share at least this much with the prompt to be added.
const MIN_LORA_SCORE: f64 = 0.3;

/// A style, the tags that say it, and how each base family suits it.
type Affinity = (
    &'static str,
    &'static [&'static str],
    &'static [(Base, f64)],
);

const STYLE_AFFINITY: &[Affinity] = &[
    (
        "realistic",
        &[
            "photorealistic",
            "realistic",
            "photography",
            "photo",
            "realism",
            "photographic",
            "portrait",
        ],
        &[
            (Base::Pony, -0.3),
            (Base::Illustrious, -0.4),
            (Base::FluxDev, 0.15),
            (Base::Sdxl, 0.1),
        ],
    ),
    (
        "anime",
        &[
            "anime",
            "manga",
            "cartoon",
            "illustration",
            "2d",
            "waifu",
            "cel shading",
        ],
        &[(Base::Illustrious, 0.4), (Base::Pony, 0.3)],
    ),
    (
        "artistic",
        &[
            "art",
            "artistic",
            "painting",
            "illustration",
            "fantasy",
            "watercolor",
            "concept art",
            "painterly",
        ],
        &[(Base::Sdxl, 0.05)],
    ),
    (
        "3d",
        &["3d", "render", "cgi", "3d render", "pixar", "blender"],
        &[(Base::Sdxl, 0.05)],
    ),
    (
        "pixel art",
        &["pixel art", "pixel", "pixelart", "sprite", "8-bit"],
        &[],
    ),
];

/// Whether `lora` may be applied to a checkpoint of base `ckpt`; the error
/// says why not.
pub fn compatible(lora: Base, ckpt: Base) -> Result<(), String> {
    if lora == Base::Unknown {
        return Err("its base model is unknown, so compatibility cannot be checked".into());
    }
    if ckpt == Base::Unknown {
        return Err("the checkpoint's base model is unknown".into());
    }
    if lora.family() != ckpt.family() {
        return Err(format!(
            "a {lora} LoRA cannot be used on a {ckpt} checkpoint"
        ));
    }
    Ok(())
}

fn lower_words(c: &Candidate) -> (Vec<String>, String) {
    let tags = c.facts.tags.iter().map(|t| t.to_lowercase()).collect();
    let name = c.entry.name.to_lowercase().replace(['_', '-', '.'], " ");
    (tags, name)
}

/// How well a checkpoint's tags, name and family suit the style (0..~1.4).
fn style_fit(c: &Candidate, a: &Analysis, reasons: &mut Vec<String>) -> f64 {
    let (tags, name) = lower_words(c);
    let (style_tags, family): (Vec<&str>, &[(Base, f64)]) =
        match STYLE_AFFINITY.iter().find(|(s, _, _)| *s == a.style) {
            Some((_, t, f)) => (t.to_vec(), f),
            // A free-text style: its own words are the tags to look for.
            None => (a.style.split_whitespace().collect(), &[]),
        };
    let mut fit = 0.0;
    let tag_hits: Vec<&str> = style_tags
        .iter()
        .copied()
        .filter(|t| tags.iter().any(|x| x == t))
        .collect();
    if !tag_hits.is_empty() {
        fit += 0.6 + 0.1 * (tag_hits.len().min(3) as f64 - 1.0);
        reasons.push(format!(
            "tagged {} (style {})",
            tag_hits.join(", "),
            a.style
        ));
    }
    let name_hits: Vec<&str> = style_tags
        .iter()
        .copied()
        .filter(|t| name.split(' ').any(|w| w == *t))
        .collect();
    if !name_hits.is_empty() {
        fit += 0.3;
        reasons.push(format!("name says {}", name_hits.join(", ")));
    }
    if let Some((_, bonus)) = family.iter().find(|(b, _)| *b == c.base) {
        fit += bonus;
        reasons.push(format!(
            "{} family {} for {} ({bonus:+.2})",
            c.base,
            if *bonus >= 0.0 { "suits" } else { "suits less" },
            a.style
        ));
    }
    fit
}

/// Popularity on a log scale (0..1): a million downloads is 1.
fn popularity(f: &Facts, reasons: &mut Vec<String>) -> f64 {
    if f.downloads == 0 && f.rating.is_none() && f.thumbs_up == 0 {
        return 0.0;
    }
    let dl = ((f.downloads as f64 + 1.0).log10() / 6.0).min(1.0);
    let thumbs = ((f.thumbs_up as f64 + 1.0).log10() / 5.0).min(1.0);
    let rating = f.rating.map(|r| (r / 5.0).clamp(0.0, 1.0)).unwrap_or(0.5);
    let p = 0.6 * dl + 0.2 * thumbs + 0.2 * rating;
    reasons.push(format!(
        "popularity {p:.2} ({} downloads, {} thumbs up)",
        f.downloads, f.thumbs_up
    ));
    p
}

/// How a family suits a quality level: fast favours small models, high and
/// ultra the larger ones.
fn level_fit(base: Base, level: &str) -> f64 {
    let big = matches!(
        base.family(),
        Base::Sdxl | Base::FluxDev | Base::Sd3 | Base::HiDream
    );
    match (level, big) {
        ("fast", false) => 0.1,
        ("high" | "ultra", true) => 0.1,
        _ => 0.0,
    }
}

/// Ranks the checkpoints that `usable` accepts (the engine can render the
/// family and the machine can hold it; it returns why not otherwise). The
/// rejected come back too, with their reason, for the plan's runners-up.
pub fn rank_checkpoints(
    candidates: &[Candidate],
    a: &Analysis,
    level: &str,
    usable: &dyn Fn(&Candidate) -> Result<(), String>,
) -> (Vec<Scored>, Vec<(Scored, String)>) {
    let mut ranked = Vec::new();
    let mut rejected = Vec::new();
    for c in candidates {
        let mut reasons = Vec::new();
        let style = style_fit(c, a, &mut reasons);
        let pop = popularity(&c.facts, &mut reasons);
        let lvl = level_fit(c.base, level);
        if lvl > 0.0 {
            reasons.push(format!("{} suits quality {level}", c.base));
        }
        let scored = Scored {
            id: c.entry.id,
            name: c.entry.name.clone(),
            path: c.entry.path.clone(),
            base: c.base,
            score: round(0.6 * style + 0.3 * pop + lvl),
            reasons,
        };
        match usable(c) {
            Ok(()) => ranked.push(scored),
            Err(why) => rejected.push((scored, why)),
        }
    }
    let order = |a: &Scored, b: &Scored| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id));
    ranked.sort_by(order);
    rejected.sort_by(|a, b| order(&a.0, &b.0));
    (ranked, rejected)
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// How much a LoRA shares with the prompt: concepts found in its trigger
/// words, tags and name.
fn lora_fit(l: &Candidate, a: &Analysis, reasons: &mut Vec<String>) -> f64 {
    let (tags, name) = lower_words(l);
    let triggers: Vec<String> = l
        .facts
        .trained_words
        .iter()
        .map(|w| w.to_lowercase())
        .collect();
    let mut score = 0.0;
    let wanted: Vec<&String> = a.concepts.iter().chain(a.lora_tags.iter()).collect();
    for c in &wanted {
        if triggers
            .iter()
            .any(|t| t == *c || t.split([',', ' ']).any(|w| w == c.as_str()))
        {
            score += 0.6;
            reasons.push(format!("trigger word '{c}' is in the prompt"));
        } else if tags.iter().any(|t| t == *c) {
            score += 0.4;
            reasons.push(format!("tagged '{c}'"));
        } else if !c.contains(' ') && name.split(' ').any(|w| w == c.as_str()) {
            score += 0.3;
            reasons.push(format!("name has '{c}'"));
        }
    }
    if tags.contains(&a.style) {
        score += 0.2;
        reasons.push(format!("tagged with the style '{}'", a.style));
    }
    score
}

/// Picks up to `max` LoRAs for the checkpoint: compatible ones only, in
/// order of fit, above a minimum; each with its weight and trigger words.
pub fn choose_loras(
    ckpt_base: Base,
    loras: &[Candidate],
    a: &Analysis,
    max: usize,
) -> Vec<ChosenLora> {
    let mut scored: Vec<ChosenLora> = loras
        .iter()
        .filter(|l| compatible(l.base, ckpt_base).is_ok())
        .filter_map(|l| {
            let mut reasons = Vec::new();
            let fit = round(lora_fit(l, a, &mut reasons));
            (fit >= MIN_LORA_SCORE).then(|| {
                let pop = popularity(&l.facts, &mut Vec::new());
                let weight = l.facts.preferred_weight.unwrap_or(DEFAULT_LORA_WEIGHT);
                reasons.push(match l.facts.preferred_weight {
                    Some(w) => format!("weight {w} recommended by its metadata"),
                    None => format!("weight {DEFAULT_LORA_WEIGHT} (default)"),
                });
                ChosenLora {
                    scored: Scored {
                        id: l.entry.id,
                        name: l.entry.name.clone(),
                        path: l.entry.path.clone(),
                        base: l.base,
                        score: round(fit + 0.1 * pop),
                        reasons,
                    },
                    weight,
                    trigger_words: l.facts.trained_words.clone(),
                }
            })
        })
        .collect();
    scored.sort_by(|a, b| {
        b.scored
            .score
            .total_cmp(&a.scored.score)
            .then(a.scored.id.cmp(&b.scored.id))
    });
    scored.truncate(max);
    scored
}

/// The prompt with each LoRA's first trigger word added once (not when the
/// prompt already has it).
pub fn with_trigger_words(prompt: &str, loras: &[ChosenLora]) -> String {
    let mut out = prompt.trim().to_string();
    for l in loras {
        if let Some(word) = l
            .trigger_words
            .iter()
            .map(|w| w.trim())
            .find(|w| !w.is_empty())
            && !out.to_lowercase().contains(&word.to_lowercase())
        {
            if !out.is_empty() {
                out.push_str(", ");
            }
            out.push_str(word);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Kind;
    use crate::select::analysis::analyse;

    fn cand(
        id: i64,
        name: &str,
        kind: Kind,
        base: Base,
        tags: &[&str],
        words: &[&str],
        downloads: u64,
    ) -> Candidate {
        Candidate {
            entry: CatalogEntry::new(id, &format!("/m/{name}.safetensors"), kind, base),
            base,
            facts: Facts {
                tags: tags.iter().map(|s| s.to_string()).collect(),
                trained_words: words.iter().map(|s| s.to_string()).collect(),
                downloads,
                ..Default::default()
            },
        }
    }

    fn ckpts() -> Vec<Candidate> {
        vec![
            cand(
                1,
                "realisticVision",
                Kind::Checkpoint,
                Base::Sd15,
                &["photorealistic", "portrait"],
                &[],
                500_000,
            ),
            cand(
                2,
                "animeMix",
                Kind::Checkpoint,
                Base::Sd15,
                &["anime"],
                &[],
                300_000,
            ),
            cand(
                3,
                "ponyDiffusionV6XL",
                Kind::Checkpoint,
                Base::Pony,
                &["anime", "base model"],
                &[],
                900_000,
            ),
            cand(
                4,
                "juggernautXL",
                Kind::Checkpoint,
                Base::Sdxl,
                &["photorealistic", "realistic"],
                &[],
                800_000,
            ),
            cand(
                5,
                "dreamPainter",
                Kind::Checkpoint,
                Base::Sd15,
                &["painting", "art"],
                &[],
                10_000,
            ),
        ]
    }

    #[test]
    fn style_picks_the_checkpoint() {
        let ok = |_: &Candidate| Ok(());
        let top = |prompt: &str, level: &str| {
            rank_checkpoints(&ckpts(), &analyse(prompt, None), level, &ok).0[0].id
        };
        assert_eq!(top("RAW photo of a woman, 85mm", "high"), 4);
        assert_eq!(top("1girl, anime, school", "balanced"), 3);
        assert_eq!(top("oil painting of a harbour", "balanced"), 5);
        // Deterministic: same input, same order.
        let a = rank_checkpoints(&ckpts(), &analyse("a cat", None), "fast", &ok);
        let b = rank_checkpoints(&ckpts(), &analyse("a cat", None), "fast", &ok);
        assert_eq!(a, b);
    }

    #[test]
    fn unusable_checkpoints_are_rejected_with_their_reason() {
        let no_xl = |c: &Candidate| {
            if c.base.family() == Base::Sdxl {
                Err("too big".to_string())
            } else {
                Ok(())
            }
        };
        let (ranked, rejected) =
            rank_checkpoints(&ckpts(), &analyse("photo of a man", None), "high", &no_xl);
        assert_eq!(ranked[0].id, 1);
        assert_eq!(
            rejected.iter().map(|(s, _)| s.id).collect::<Vec<_>>(),
            vec![4, 3]
        );
        assert_eq!(rejected[0].1, "too big");
    }

    #[test]
    fn loras_never_cross_families_and_trigger_words_are_added_once() {
        let loras = vec![
            cand(
                10,
                "watercolor_sd15",
                Kind::Lora,
                Base::Sd15,
                &["watercolor", "style"],
                &["watercolor"],
                10,
            ),
            cand(
                11,
                "watercolor_xl",
                Kind::Lora,
                Base::Sdxl,
                &["watercolor"],
                &["wtrclr style"],
                10,
            ),
            cand(
                12,
                "pony_watercolor",
                Kind::Lora,
                Base::Pony,
                &["watercolor"],
                &[],
                10,
            ),
            cand(
                13,
                "mystery_watercolor",
                Kind::Lora,
                Base::Unknown,
                &["watercolor"],
                &["watercolor"],
                10,
            ),
            cand(
                14,
                "fox_xl",
                Kind::Lora,
                Base::Sdxl,
                &["fox", "animal"],
                &[],
                10,
            ),
            cand(15, "cars_xl", Kind::Lora, Base::Sdxl, &["car"], &[], 10),
        ];
        let a = analyse("a fox in the snow, watercolor", None);
        let sd15: Vec<i64> = choose_loras(Base::Sd15, &loras, &a, 3)
            .iter()
            .map(|l| l.scored.id)
            .collect();
        assert_eq!(sd15, vec![10]);
        let xl = choose_loras(Base::Sdxl, &loras, &a, 3);
        let ids: Vec<i64> = xl.iter().map(|l| l.scored.id).collect();
        assert_eq!(
            ids,
            vec![11, 12, 14],
            "SDXL family only, Pony allowed, unknown never"
        );
        assert_eq!(choose_loras(Base::Sdxl, &loras, &a, 1).len(), 1);
        assert_eq!(
            with_trigger_words("a fox in the snow, watercolor", &xl),
            "a fox in the snow, watercolor, wtrclr style"
        );
        assert_eq!(xl[0].weight, DEFAULT_LORA_WEIGHT);
        assert!(
            compatible(Base::Sdxl, Base::FluxDev)
                .unwrap_err()
                .contains("cannot")
        );
        assert!(compatible(Base::Illustrious, Base::Pony).is_ok());
        assert!(compatible(Base::Sd15, Base::Sdxl).is_err());
    }
}
