//! What a prompt asks for, read offline from its words: a style, a content
//! type, and the key concepts that LoRA tags and trigger words are matched
//! against. It is deliberately simple (tables of keywords, first match by
//! weight) so that it is instant, predictable and explainable; a local LLM
//! (see `ollama`) can do better when the user has one, and this is the
//! fallback when it is absent or answers nonsense.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// Where an analysis came from, for the plan's reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnalysisSource {
    Keywords,
    Ollama,
}

/// The prompt's reading. `style` and `content` are lower-case words from the
/// tables below (or the user's free-text `--style`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    pub style: String,
    /// True when the style came from `--style` rather than the prompt.
    pub style_given: bool,
    pub content: String,
    pub concepts: Vec<String>,
    /// A base model the analyser suggests (only Ollama does).
    pub suggested_base: Option<String>,
    /// Extra tags to look for in LoRAs (only Ollama gives them).
    pub lora_tags: Vec<String>,
    pub steps: Option<u32>,
    pub cfg: Option<f64>,
    pub source: AnalysisSource,
    /// The words that decided style and content.
    pub evidence: Vec<String>,
}

/// Style → the words and phrases that say it, with a weight each.
const STYLES: &[(&str, &[(&str, u32)])] = &[
    (
        "realistic",
        &[
            ("photo", 3),
            ("photograph", 3),
            ("photography", 3),
            ("photorealistic", 4),
            ("realistic", 3),
            ("raw photo", 4),
            ("dslr", 3),
            ("35mm", 3),
            ("85mm", 3),
            ("film grain", 2),
            ("bokeh", 2),
            ("hyperrealistic", 4),
            ("cinematic photo", 4),
            ("skin texture", 2),
            ("canon", 2),
            ("nikon", 2),
        ],
    ),
    (
        "anime",
        &[
            ("anime", 4),
            ("manga", 4),
            ("1girl", 4),
            ("1boy", 4),
            ("2girls", 4),
            ("waifu", 3),
            ("chibi", 3),
            ("cel shading", 3),
            ("cel-shaded", 3),
            ("ghibli", 3),
            ("visual novel", 3),
            ("kawaii", 2),
            ("masterpiece, best quality", 1),
            ("vtuber", 3),
        ],
    ),
    (
        "artistic",
        &[
            ("painting", 3),
            ("oil painting", 4),
            ("watercolor", 4),
            ("watercolour", 4),
            ("acrylic", 3),
            ("impressionism", 4),
            ("impressionist", 4),
            ("sketch", 3),
            ("charcoal", 3),
            ("illustration", 2),
            ("concept art", 3),
            ("brush strokes", 3),
            ("gouache", 4),
            ("ink drawing", 3),
            ("artstation", 2),
            ("van gogh", 4),
            ("monet", 4),
            ("art nouveau", 3),
            ("ukiyo-e", 4),
            ("fantasy art", 2),
        ],
    ),
    (
        "3d",
        &[
            ("3d", 3),
            ("3d render", 4),
            ("render", 2),
            ("octane", 3),
            ("octane render", 4),
            ("blender", 3),
            ("unreal engine", 4),
            ("cgi", 3),
            ("pixar", 3),
            ("isometric", 2),
            ("low poly", 4),
            ("clay", 2),
            ("c4d", 3),
            ("ray tracing", 2),
        ],
    ),
    (
        "pixel art",
        &[
            ("pixel art", 5),
            ("pixelart", 5),
            ("8-bit", 3),
            ("16-bit", 3),
            ("sprite", 3),
            ("pixelated", 3),
        ],
    ),
    (
        "line art",
        &[
            ("line art", 5),
            ("lineart", 5),
            ("coloring page", 4),
            ("outline", 2),
        ],
    ),
    (
        "comic",
        &[
            ("comic", 4),
            ("comic book", 5),
            ("graphic novel", 4),
            ("halftone", 3),
            ("cartoon", 3),
        ],
    ),
];

/// Content type → its words.
const CONTENTS: &[(&str, &[&str])] = &[
    (
        "portrait",
        &[
            "portrait",
            "headshot",
            "face",
            "selfie",
            "close-up",
            "closeup",
            "woman",
            "man",
            "girl",
            "boy",
            "person",
            "character",
            "1girl",
            "1boy",
            "lady",
            "warrior",
            "knight",
            "wizard",
            "princess",
            "king",
            "queen",
        ],
    ),
    (
        "landscape",
        &[
            "landscape",
            "scenery",
            "mountain",
            "mountains",
            "sunset",
            "sunrise",
            "forest",
            "ocean",
            "sea",
            "beach",
            "valley",
            "lake",
            "river",
            "desert",
            "sky",
            "cityscape",
            "city",
            "skyline",
            "countryside",
            "field",
            "waterfall",
            "village",
            "street",
        ],
    ),
    (
        "animal",
        &[
            "cat", "dog", "fox", "wolf", "bird", "horse", "lion", "tiger", "owl", "dragon",
            "animal", "puppy", "kitten",
        ],
    ),
    (
        "product",
        &[
            "product",
            "product shot",
            "packshot",
            "bottle",
            "perfume",
            "sneaker",
            "shoe",
            "watch",
            "jewelry",
            "cosmetics",
            "advertisement",
            "commercial",
            "studio lighting",
            "on a white background",
        ],
    ),
    (
        "architecture",
        &[
            "building",
            "architecture",
            "interior",
            "house",
            "cathedral",
            "castle",
            "room",
        ],
    ),
    (
        "food",
        &[
            "food", "dish", "cake", "burger", "pizza", "sushi", "coffee", "dessert",
        ],
    ),
    (
        "vehicle",
        &[
            "car",
            "motorcycle",
            "spaceship",
            "airplane",
            "train",
            "ship",
            "truck",
        ],
    ),
];

/// Words that carry no concept.
const STOP_WORDS: &[&str] = &[
    "a",
    "an",
    "the",
    "of",
    "in",
    "on",
    "at",
    "to",
    "and",
    "or",
    "with",
    "without",
    "for",
    "by",
    "from",
    "is",
    "are",
    "be",
    "it",
    "its",
    "this",
    "that",
    "very",
    "highly",
    "detailed",
    "high",
    "quality",
    "best",
    "masterpiece",
    "ultra",
    "4k",
    "8k",
    "hd",
    "hdr",
    "uhd",
    "beautiful",
    "amazing",
    "intricate",
    "sharp",
    "focus",
    "extremely",
    "style",
    "realistic",
    "photorealistic",
    "looking",
    "into",
    "over",
    "under",
    "some",
    "as",
    "his",
    "her",
    "their",
];

/// The prompt without weighting syntax (`(word:1.2)`, `[word]`), LoRA tags
/// (`<lora:x:1>`) and `embedding:` prefixes, lower-cased.
pub fn plain_text(prompt: &str) -> String {
    let prompt = strip_embeddings(prompt);
    let mut out = String::with_capacity(prompt.len());
    let mut chars = prompt.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            '<' => {
                // <lora:name:1.0> and similar A1111 extra-network tags.
                for n in chars.by_ref() {
                    if n == '>' {
                        break;
                    }
                }
                out.push(' ');
            }
            '(' | ')' | '[' | ']' | '{' | '}' => out.push(' '),
            ':' => {
                // ":1.2" weights disappear; other colons become spaces.
                while chars
                    .peek()
                    .is_some_and(|n| n.is_ascii_digit() || *n == '.' || *n == ' ')
                {
                    chars.next();
                }
                out.push(' ');
            }
            _ => out.extend(c.to_lowercase()),
        }
    }
    out
}

/// Removes ComfyUI's `embedding:name` references (resources, not concepts).
fn strip_embeddings(prompt: &str) -> String {
    const TAG: &str = "embedding:";
    let mut out = String::with_capacity(prompt.len());
    let mut rest = prompt;
    while let Some(pos) = rest.to_ascii_lowercase().find(TAG) {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + TAG.len()..];
        let end = after
            .find(|c: char| c.is_whitespace() || ",()[]:".contains(c))
            .unwrap_or(after.len());
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Whole-word (or whole-phrase) containment.
fn has_phrase(text: &str, phrase: &str) -> bool {
    let bytes = text.as_bytes();
    let mut start = 0;
    while let Some(pos) = text[start..].find(phrase) {
        let at = start + pos;
        let end = at + phrase.len();
        let before_ok = at == 0 || !bytes[at - 1].is_ascii_alphanumeric();
        let after_ok = end >= bytes.len() || !bytes[end].is_ascii_alphanumeric();
        if before_ok && after_ok {
            return true;
        }
        start = at + 1;
    }
    false
}

/// Reads style, content and concepts from the prompt. `style` (from
/// `--style`) overrides the guessed style.
pub fn analyse(prompt: &str, style: Option<&str>) -> Analysis {
    let text = plain_text(prompt);
    let mut evidence = Vec::new();
    let (guessed_style, style_words) = best_style(&text);
    evidence.extend(style_words);
    let content = CONTENTS
        .iter()
        .map(|(name, words)| {
            let hits: Vec<&str> = words
                .iter()
                .copied()
                .filter(|w| has_phrase(&text, w))
                .collect();
            (name, hits)
        })
        .max_by_key(|(_, hits)| hits.len())
        .filter(|(_, hits)| !hits.is_empty());
    let content = match content {
        Some((name, hits)) => {
            evidence.extend(hits.iter().map(|h| format!("content: {h}")));
            name.to_string()
        }
        None => "general".to_string(),
    };
    let style_given = style.is_some_and(|s| !s.trim().is_empty());
    let style = match style.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => normalise_style(s),
        None => guessed_style,
    };
    Analysis {
        style,
        style_given,
        content,
        concepts: concepts(&text),
        suggested_base: None,
        lora_tags: Vec::new(),
        steps: None,
        cfg: None,
        source: AnalysisSource::Keywords,
        evidence,
    }
}

fn best_style(text: &str) -> (String, Vec<String>) {
    let mut best: Option<(&str, u32, Vec<String>)> = None;
    for (name, words) in STYLES {
        let hits: Vec<(&str, u32)> = words
            .iter()
            .copied()
            .filter(|(w, _)| has_phrase(text, w))
            .collect();
        let score: u32 = hits.iter().map(|(_, s)| s).sum();
        if score > 0 && best.as_ref().is_none_or(|(_, b, _)| score > *b) {
            best = Some((
                name,
                score,
                hits.iter().map(|(w, _)| format!("style: {w}")).collect(),
            ));
        }
    }
    match best {
        Some((name, _, words)) => (name.to_string(), words),
        // No style words: most users expect a photograph-like image.
        None => (
            "realistic".to_string(),
            vec!["style: none named, realistic by default".to_string()],
        ),
    }
}

/// Maps the many ways people name a style onto the table's names; unknown
/// styles are kept as written (lower-cased), so free text still matches tags.
pub fn normalise_style(s: &str) -> String {
    let s = s.trim().to_lowercase();
    let known = match s.as_str() {
        "photo" | "photographic" | "photorealistic" | "real" | "realism" | "realistic" => {
            "realistic"
        }
        "art" | "artistic" | "painting" | "painterly" | "illustration" => "artistic",
        "3d" | "3d render" | "render" | "cgi" => "3d",
        "anime" | "manga" => "anime",
        "pixel" | "pixelart" | "pixel art" => "pixel art",
        _ => return s,
    };
    known.to_string()
}

/// Key concepts: the comma-separated phrases with stop words removed, and
/// their single words, in prompt order, without duplicates.
fn concepts(text: &str) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for phrase in text.split([',', '.', ';', '|', '\n']) {
        let words: Vec<&str> = phrase
            .split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '\''))
            .filter(|w| {
                !w.is_empty() && !STOP_WORDS.contains(w) && !w.chars().all(|c| c.is_ascii_digit())
            })
            .collect();
        if words.len() > 1 {
            let joined = words.join(" ");
            if seen.insert(joined.clone()) {
                out.push(joined);
            }
        }
        for w in words {
            if w.len() > 1 && seen.insert(w.to_string()) {
                out.push(w.to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_table() {
        let cases = [
            (
                "1girl, anime, cherry blossoms, school uniform",
                "anime",
                "portrait",
            ),
            (
                "RAW photo of a woman, 85mm, bokeh, film grain",
                "realistic",
                "portrait",
            ),
            (
                "oil painting of a stormy sea, brush strokes",
                "artistic",
                "landscape",
            ),
            ("a sunset over the mountains", "realistic", "landscape"),
            (
                "product shot of a perfume bottle, studio lighting",
                "realistic",
                "product",
            ),
            ("cute fox, 3d render, octane render, pixar", "3d", "animal"),
            ("pixel art castle, 16-bit", "pixel art", "architecture"),
            ("abstract shapes", "realistic", "general"),
        ];
        for (prompt, style, content) in cases {
            let a = analyse(prompt, None);
            assert_eq!(
                (a.style.as_str(), a.content.as_str()),
                (style, content),
                "{prompt}: {:?}",
                a.evidence
            );
            assert_eq!(a.source, AnalysisSource::Keywords);
        }
    }

    #[test]
    fn style_flag_overrides_the_guess() {
        let a = analyse("RAW photo of a cat", Some("Anime"));
        assert_eq!((a.style.as_str(), a.style_given), ("anime", true));
        assert_eq!(analyse("a cat", Some("  vaporwave ")).style, "vaporwave");
    }

    #[test]
    fn concepts_drop_syntax_and_stop_words_and_keep_phrases() {
        let a = analyse(
            "(masterpiece:1.2), a [red] fox in the snow, <lora:foo:0.8> embedding:bad_hands",
            None,
        );
        assert_eq!(a.concepts, vec!["red fox snow", "red", "fox", "snow"]);
        assert_eq!(plain_text(r"a \(literal\) paren"), "a (literal) paren");
    }

    #[test]
    fn words_match_whole() {
        assert!(has_phrase("a cat sat", "cat"));
        assert!(!has_phrase("concatenate", "cat"));
        assert!(
            !analyse("a photon torpedo", None)
                .evidence
                .iter()
                .any(|e| e.contains("photo"))
        );
    }
}
