//! Writing images: PNG bytes with the metadata other tools read back, and
//! files that appear whole or not at all.
//!
//! The A1111 `parameters` text is what A1111, Forge, CivitAI and most image
//! viewers parse ("Steps: 20, Sampler: Euler a, ..."); the full plan goes
//! beside it as JSON under the `gen` key so nothing of the run is lost. A file
//! is written under a temporary name in the target folder, synced, and then
//! linked to its final name without replacing anything, so a failing run
//! never leaves a half-written PNG and never overwrites an existing image.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum OutputError {
    #[error("the image buffer has {got} bytes; {width}x{height} RGB needs {want}")]
    BadBuffer {
        got: usize,
        want: usize,
        width: u32,
        height: u32,
    },
    #[error("cannot encode the PNG: {0}")]
    Encode(#[from] png::EncodingError),
    #[error("cannot write in {dir}: {source}")]
    Write { dir: PathBuf, source: io::Error },
}

/// What the A1111 `parameters` text says of an image.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Parameters {
    pub prompt: String,
    pub negative: String,
    pub steps: u32,
    /// A1111's sampler name ("Euler a", "DPM++ 2M").
    pub sampler: String,
    /// A1111's schedule type ("Karras", "Normal"), when not the sampler's default.
    pub schedule_type: Option<String>,
    pub cfg_scale: f64,
    pub seed: u64,
    pub width: u32,
    pub height: u32,
    /// AutoV2 of the checkpoint.
    pub model_hash: Option<String>,
    pub model: Option<String>,
    pub clip_skip: Option<u32>,
    pub denoise: Option<f64>,
    /// The SDXL refiner ("name [AutoV2]") and the fraction of the steps
    /// after which it took over.
    pub refiner: Option<(String, f64)>,
    /// (name, AutoV3 or AutoV2) of each LoRA.
    pub lora_hashes: Vec<(String, String)>,
    /// (name, hash) of each textual-inversion embedding.
    pub ti_hashes: Vec<(String, String)>,
    pub version: String,
}

/// A1111 writes a CFG of 7 as "7" and 3.5 as "3.5".
fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// A value that contains A1111's separators is quoted, as A1111 does.
fn quote(v: &str) -> String {
    if v.contains([',', ':', '\n', '"']) {
        serde_json::to_string(v).unwrap_or_else(|_| v.to_string())
    } else {
        v.to_string()
    }
}

impl Parameters {
    /// The text A1111 stores under `parameters`: the prompt, a
    /// `Negative prompt:` line, then `Key: value` pairs separated by ", ".
    pub fn to_a1111(&self) -> String {
        let mut fields: Vec<(&str, String)> = vec![
            ("Steps", self.steps.to_string()),
            ("Sampler", self.sampler.clone()),
        ];
        if let Some(s) = &self.schedule_type {
            fields.push(("Schedule type", s.clone()));
        }
        fields.push(("CFG scale", number(self.cfg_scale)));
        fields.push(("Seed", self.seed.to_string()));
        fields.push(("Size", format!("{}x{}", self.width, self.height)));
        if let Some(h) = &self.model_hash {
            fields.push(("Model hash", h.clone()));
        }
        if let Some(m) = &self.model {
            fields.push(("Model", quote(m)));
        }
        if let Some(d) = self.denoise {
            fields.push(("Denoising strength", number(d)));
        }
        if let Some(c) = self.clip_skip.filter(|c| *c > 1) {
            fields.push(("Clip skip", c.to_string()));
        }
        if let Some((name, switch)) = &self.refiner {
            fields.push(("Refiner", quote(name)));
            fields.push(("Refiner switch at", number(*switch)));
        }
        let pairs = |list: &[(String, String)]| {
            let inner: Vec<String> = list.iter().map(|(n, h)| format!("{n}: {h}")).collect();
            format!("\"{}\"", inner.join(", "))
        };
        if !self.lora_hashes.is_empty() {
            fields.push(("Lora hashes", pairs(&self.lora_hashes)));
        }
        if !self.ti_hashes.is_empty() {
            fields.push(("TI hashes", pairs(&self.ti_hashes)));
        }
        fields.push(("Version", quote(&self.version)));
        let tail: Vec<String> = fields
            .into_iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        let mut text = self.prompt.clone();
        if !self.negative.is_empty() {
            text.push_str("\nNegative prompt: ");
            text.push_str(&self.negative);
        }
        text.push('\n');
        text.push_str(&tail.join(", "));
        text
    }
}

/// Encodes 8-bit RGB pixels as PNG with text chunks (tEXt when the text is
/// Latin-1, iTXt otherwise, as PIL does for A1111).
pub fn encode_png(
    rgb: &[u8],
    width: u32,
    height: u32,
    texts: &[(&str, &str)],
) -> Result<Vec<u8>, OutputError> {
    let want = width as usize * height as usize * 3;
    if rgb.len() != want {
        return Err(OutputError::BadBuffer {
            got: rgb.len(),
            want,
            width,
            height,
        });
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, width, height);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        for (key, value) in texts {
            if value.chars().all(|c| (c as u32) < 256) {
                enc.add_text_chunk(key.to_string(), value.to_string())?;
            } else {
                enc.add_itxt_chunk(key.to_string(), value.to_string())?;
            }
        }
        let mut writer = enc.write_header()?;
        writer.write_image_data(rgb)?;
        writer.finish()?;
    }
    Ok(out)
}

/// The text chunks of a PNG, by key (for tests and for reading images back).
pub fn read_texts(bytes: &[u8]) -> Result<Vec<(String, String)>, png::DecodingError> {
    let decoder = png::Decoder::new(io::Cursor::new(bytes));
    let reader = decoder.read_info()?;
    let info = reader.info();
    let mut out: Vec<(String, String)> = info
        .uncompressed_latin1_text
        .iter()
        .map(|t| (t.keyword.clone(), t.text.clone()))
        .collect();
    for t in &info.compressed_latin1_text {
        out.push((t.keyword.clone(), t.get_text()?));
    }
    for t in &info.utf8_text {
        out.push((t.keyword.clone(), t.get_text()?));
    }
    Ok(out)
}

/// Writes `bytes` as `<dir>/<stem>.png`, or `<stem>_1.png`, `<stem>_2.png`
/// ... when taken: written to a temporary file in `dir`, synced, then linked
/// to the free name (which fails rather than replace a file that appeared
/// meanwhile). Returns the final path.
pub fn write_new_file(dir: &Path, stem: &str, bytes: &[u8]) -> Result<PathBuf, OutputError> {
    let err = |source| OutputError::Write {
        dir: dir.to_path_buf(),
        source,
    };
    fs::create_dir_all(dir).map_err(err)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".gen-")
        .suffix(".png.part")
        .tempfile_in(dir)
        .map_err(err)?;
    tmp.write_all(bytes).map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    let mut tmp = tmp.into_temp_path();
    for n in 0u32.. {
        let name = if n == 0 {
            format!("{stem}.png")
        } else {
            format!("{stem}_{n}.png")
        };
        let target = dir.join(name);
        match tmp.persist_noclobber(&target) {
            Ok(()) => return Ok(target),
            Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => tmp = e.path,
            Err(e) => return Err(err(e.error)),
        }
    }
    unreachable!("the loop returns")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Parameters {
        Parameters {
            prompt: "a red fox, (snow:1.2)".into(),
            negative: "blurry".into(),
            steps: 20,
            sampler: "DPM++ 2M".into(),
            schedule_type: Some("Karras".into()),
            cfg_scale: 7.0,
            seed: 42,
            width: 512,
            height: 768,
            model_hash: Some("6ce0161689".into()),
            model: Some("v1-5-pruned-emaonly".into()),
            clip_skip: Some(2),
            denoise: None,
            refiner: None,
            lora_hashes: vec![("add_detail".into(), "9c783c8ce46c".into())],
            ti_hashes: vec![],
            version: "gen 0.1.0".into(),
        }
    }

    #[test]
    fn a1111_text_has_the_fields_in_a1111_order() {
        assert_eq!(
            sample().to_a1111(),
            "a red fox, (snow:1.2)\nNegative prompt: blurry\nSteps: 20, Sampler: DPM++ 2M, Schedule type: Karras, \
             CFG scale: 7, Seed: 42, Size: 512x768, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Clip skip: 2, \
             Lora hashes: \"add_detail: 9c783c8ce46c\", Version: gen 0.1.0"
        );
        let mut p = sample();
        p.negative.clear();
        p.cfg_scale = 3.5;
        p.model = Some("my, model".into());
        let text = p.to_a1111();
        assert!(!text.contains("Negative prompt"));
        assert!(
            text.contains("CFG scale: 3.5,") && text.contains("Model: \"my, model\","),
            "{text}"
        );
        p.denoise = Some(0.75);
        p.refiner = Some(("sd_xl_refiner_1.0 [7440042bbd]".into(), 0.8));
        let text = p.to_a1111();
        assert!(
            text.contains(
                "Denoising strength: 0.75, Clip skip: 2, Refiner: sd_xl_refiner_1.0 [7440042bbd], Refiner switch at: 0.8,"
            ),
            "{text}"
        );
    }

    #[test]
    fn png_round_trips_pixels_and_texts() {
        let rgb: Vec<u8> = (0..8 * 8 * 3).map(|i| i as u8).collect();
        let params = sample().to_a1111();
        let bytes = encode_png(
            &rgb,
            8,
            8,
            &[("parameters", &params), ("gen", "{\"plan\":\"ünïcode\"}")],
        )
        .unwrap();
        let texts = read_texts(&bytes).unwrap();
        assert!(texts.contains(&("parameters".into(), params.clone())));
        assert!(texts.contains(&("gen".into(), "{\"plan\":\"ünïcode\"}".into())));
        let mut reader = png::Decoder::new(io::Cursor::new(&bytes))
            .read_info()
            .unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        reader.next_frame(&mut buf).unwrap();
        assert_eq!(buf, rgb);
        assert!(matches!(
            encode_png(&rgb, 9, 8, &[]),
            Err(OutputError::BadBuffer { .. })
        ));
    }

    #[test]
    fn never_overwrites_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let a = write_new_file(dir.path(), "img", b"one").unwrap();
        let b = write_new_file(dir.path(), "img", b"two").unwrap();
        assert_eq!(a, dir.path().join("img.png"));
        assert_eq!(b, dir.path().join("img_1.png"));
        assert_eq!(fs::read(&a).unwrap(), b"one");
        let names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }
}
