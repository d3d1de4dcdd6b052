//! Which checkpoint weight each LoRA module name adapts.
//!
//! ComfyUI builds this map from the model it has loaded (`model_lora_keys_unet`,
//! `model_lora_keys_clip`, `unet_to_diffusers`); we build the same map from the
//! tensor names of the checkpoint as it sits on disk, in the original LDM
//! layout. So the targets here are LDM keys (`model.diffusion_model.*`,
//! `cond_stage_model.*`, `conditioner.embedders.N.*`), not ComfyUI's renamed
//! ones, and the map needs no model configuration: the diffusers block
//! numbering is read off the structure of the keys (where the down- and
//! upsamplers sit).
//!
//! One difference of layout matters: ComfyUI splits OpenCLIP's fused
//! `attn.in_proj_weight` into q/k/v when it loads SD2 and SDXL text encoders,
//! while the checkpoint keeps it fused. A LoRA module on `q_proj`, `k_proj` or
//! `v_proj` therefore targets one third of the fused weight ([`Part`]), the
//! way ComfyUI's patch offsets narrow a fused weight. The result is the same
//! arithmetic on the same rows.
//!
//! Beyond ComfyUI's names this map also accepts the plain diffusers/PEFT form
//! of attention modules (`unet.down_blocks.0....attn1.to_q`), which ComfyUI
//! only knows in the older `processor.to_q` spelling; the maths is unchanged.

use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The LDM prefix of UNet weights in a single-file checkpoint.
pub const UNET_PREFIX: &str = "model.diffusion_model.";

/// A slice of a fused weight: rows `[index·n/of, (index+1)·n/of)` of dim 0,
/// where n is the weight's first dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Part {
    pub index: usize,
    pub of: usize,
}

/// Whether a weight belongs to the UNet (strength_model) or a text encoder
/// (strength_clip).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    Unet,
    TextEncoder,
}

/// The checkpoint weight a LoRA module adapts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The LDM checkpoint key, e.g. `model.diffusion_model.out.2.weight`.
    pub key: String,
    /// Set when the module adapts part of a fused weight.
    pub part: Option<Part>,
}

impl Target {
    fn whole(key: String) -> Target {
        Target { key, part: None }
    }

    pub fn group(&self) -> Group {
        if self.key.starts_with(UNET_PREFIX) {
            Group::Unet
        } else {
            Group::TextEncoder
        }
    }
}

/// LoRA module name → checkpoint weight, for one checkpoint layout.
#[derive(Debug, Clone, Default)]
pub struct KeyMap {
    map: HashMap<String, Target>,
}

impl KeyMap {
    /// The map for a checkpoint with these tensor names (a single-file
    /// checkpoint: UNet under `model.diffusion_model.`, text encoders under
    /// `cond_stage_model.` or `conditioner.embedders.N.`).
    pub fn from_checkpoint<'a>(keys: impl IntoIterator<Item = &'a str>) -> KeyMap {
        let keys: BTreeSet<&str> = keys.into_iter().collect();
        let mut map = KeyMap::default();
        map.add_unet(&keys);
        map.add_text_encoders(&keys);
        map
    }

    /// The weight a module name adapts, if any.
    pub fn get(&self, module: &str) -> Option<&Target> {
        self.map.get(module)
    }

    /// Every module name and its target, in no particular order.
    pub fn modules(&self) -> impl Iterator<Item = (&str, &Target)> {
        self.map
            .iter()
            .map(|(name, target)| (name.as_str(), target))
    }

    /// Number of module names known.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn insert(&mut self, name: String, target: Target) {
        self.map.insert(name, target);
    }

    fn add_unet(&mut self, keys: &BTreeSet<&str>) {
        let rests: BTreeSet<&str> = keys
            .iter()
            .filter_map(|k| k.strip_prefix(UNET_PREFIX)?.strip_suffix(".weight"))
            .collect();
        for rest in &rests {
            let key = format!("{UNET_PREFIX}{rest}.weight");
            self.insert(
                format!("lora_unet_{}", rest.replace('.', "_")),
                Target::whole(key.clone()),
            );
            self.insert(format!("diffusion_model.{rest}"), Target::whole(key));
        }
        let layout = UnetLayout::read(&rests);
        for rest in &rests {
            for diffusers in layout.diffusers_names(rest) {
                self.add_diffusers_unet(&diffusers, rest);
            }
        }
    }

    /// The names kohya, LyCORIS/SimpleTuner and diffusers give one UNet
    /// weight known by its diffusers path (without `.weight`).
    fn add_diffusers_unet(&mut self, diffusers: &str, ldm_rest: &str) {
        let target = Target::whole(format!("{UNET_PREFIX}{ldm_rest}.weight"));
        let flat = diffusers.replace('.', "_");
        self.insert(format!("lora_unet_{flat}"), target.clone());
        self.insert(format!("lycoris_{flat}"), target.clone());
        let mut processor = diffusers.replace(".to_", ".processor.to_");
        if processor.ends_with(".to_out.0") {
            processor.truncate(processor.len() - 2);
        }
        for prefix in ["", "unet."] {
            self.insert(format!("{prefix}{processor}"), target.clone());
            self.insert(format!("{prefix}{diffusers}"), target.clone());
        }
    }

    fn add_text_encoders(&mut self, keys: &BTreeSet<&str>) {
        let encoders = TextEncoder::find(keys);
        let names: &[&[(&str, &str)]] = match encoders.as_slice() {
            [_] if encoders[0].is_refiner_g() => &[G_ALONE],
            [_] => &[PRIMARY],
            [_, _] => &[PRIMARY, SECOND],
            _ => &[],
        };
        for (encoder, names) in encoders.iter().zip(names.iter()) {
            self.add_text_encoder(keys, encoder, names);
        }
    }

    fn add_text_encoder(
        &mut self,
        keys: &BTreeSet<&str>,
        encoder: &TextEncoder,
        names: &[(&str, &str)],
    ) {
        for layer in 0..encoder.layers {
            for (hf, kohya) in CLIP_MODULES {
                let Some(target) = encoder.target(layer, hf) else {
                    continue;
                };
                if !keys.contains(target.key.as_str()) {
                    continue;
                }
                for (kohya_prefix, diffusers_prefix) in names {
                    self.insert(
                        format!("{kohya_prefix}text_model_encoder_layers_{layer}_{kohya}"),
                        target.clone(),
                    );
                    self.insert(
                        format!("{diffusers_prefix}text_model.encoder.layers.{layer}.{hf}"),
                        target.clone(),
                    );
                }
            }
        }
    }
}

/// The text-encoder modules LoRAs adapt: transformers name, kohya name.
const CLIP_MODULES: &[(&str, &str)] = &[
    ("mlp.fc1", "mlp_fc1"),
    ("mlp.fc2", "mlp_fc2"),
    ("self_attn.k_proj", "self_attn_k_proj"),
    ("self_attn.q_proj", "self_attn_q_proj"),
    ("self_attn.v_proj", "self_attn_v_proj"),
    ("self_attn.out_proj", "self_attn_out_proj"),
];

/// LoRA name prefixes (kohya, diffusers) of the first or only encoder:
/// CLIP-L of SD1.x and SDXL, OpenCLIP-H of SD2.x.
const PRIMARY: &[(&str, &str)] = &[
    ("lora_te_", "text_encoder."),
    ("lora_te1_", "text_encoder."),
];
/// SDXL's second encoder, OpenCLIP-G.
const SECOND: &[(&str, &str)] = &[("lora_te2_", "text_encoder_2.")];
/// OpenCLIP-G alone (the SDXL refiner).
const G_ALONE: &[(&str, &str)] = &[("lora_te_", "text_encoder.")];

/// How a text encoder stores its layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// transformers CLIPTextModel: `text_model.encoder.layers.N.self_attn.q_proj`
    /// (very old SD1.x checkpoints lack the `text_model.` level; the prefix
    /// found then ends at `transformer.`).
    Transformers,
    /// OpenCLIP: `transformer.resblocks.N.attn.in_proj_weight` (q, k, v fused).
    OpenClip,
}

/// One text encoder found in a checkpoint.
#[derive(Debug, Clone)]
struct TextEncoder {
    prefix: String,
    layout: Layout,
    layers: usize,
}

impl TextEncoder {
    /// Text encoders in checkpoint order (sorted by prefix, so SDXL's
    /// `conditioner.embedders.0` comes before `.1`).
    fn find(keys: &BTreeSet<&str>) -> Vec<TextEncoder> {
        let mut found: BTreeMap<String, (Layout, usize)> = BTreeMap::new();
        for key in keys {
            if key.starts_with(UNET_PREFIX) || key.starts_with("first_stage_model.") {
                continue;
            }
            for (marker, layout) in [
                ("encoder.layers.", Layout::Transformers),
                ("transformer.resblocks.", Layout::OpenClip),
            ] {
                let Some(at) = key.find(marker) else { continue };
                let layer = key[at + marker.len()..]
                    .split('.')
                    .next()
                    .and_then(|n| n.parse::<usize>().ok());
                if let Some(layer) = layer {
                    let entry = found.entry(key[..at].to_string()).or_insert((layout, 0));
                    entry.1 = entry.1.max(layer + 1);
                }
            }
        }
        found
            .into_iter()
            .map(|(prefix, (layout, layers))| TextEncoder {
                prefix,
                layout,
                layers,
            })
            .collect()
    }

    /// The SDXL refiner's lone OpenCLIP-G (under `conditioner.`), which
    /// ComfyUI names `lora_te_` but not `lora_te1_`.
    fn is_refiner_g(&self) -> bool {
        self.layout == Layout::OpenClip && self.prefix.starts_with("conditioner.")
    }

    /// The checkpoint weight of a transformers-named module of a layer.
    fn target(&self, layer: usize, hf: &str) -> Option<Target> {
        let p = &self.prefix;
        match self.layout {
            Layout::Transformers => Some(Target::whole(format!(
                "{p}encoder.layers.{layer}.{hf}.weight"
            ))),
            Layout::OpenClip => {
                let block = format!("{p}transformer.resblocks.{layer}");
                let fused = |index| Target {
                    key: format!("{block}.attn.in_proj_weight"),
                    part: Some(Part { index, of: 3 }),
                };
                Some(match hf {
                    "mlp.fc1" => Target::whole(format!("{block}.mlp.c_fc.weight")),
                    "mlp.fc2" => Target::whole(format!("{block}.mlp.c_proj.weight")),
                    "self_attn.out_proj" => Target::whole(format!("{block}.attn.out_proj.weight")),
                    "self_attn.q_proj" => fused(0),
                    "self_attn.k_proj" => fused(1),
                    "self_attn.v_proj" => fused(2),
                    _ => return None,
                })
            }
        }
    }
}

/// ResNet weights: LDM name → diffusers name.
const RESNET: &[(&str, &str)] = &[
    ("in_layers.0", "norm1"),
    ("in_layers.2", "conv1"),
    ("emb_layers.1", "time_emb_proj"),
    ("out_layers.0", "norm2"),
    ("out_layers.3", "conv2"),
    ("skip_connection", "conv_shortcut"),
];

/// Weights outside the blocks: LDM name → diffusers names.
const BASIC: &[(&str, &[&str])] = &[
    (
        "label_emb.0.0",
        &["class_embedding.linear_1", "add_embedding.linear_1"],
    ),
    (
        "label_emb.0.2",
        &["class_embedding.linear_2", "add_embedding.linear_2"],
    ),
    ("input_blocks.0.0", &["conv_in"]),
    ("out.0", &["conv_norm_out"]),
    ("out.2", &["conv_out"]),
    ("time_embed.0", &["time_embedding.linear_1"]),
    ("time_embed.2", &["time_embedding.linear_2"]),
];

/// Where each LDM input/output block sits in diffusers' numbering, read
/// from the keys: a level ends at a downsampler (input side) or an
/// upsampler (output side).
#[derive(Debug, Default)]
struct UnetLayout {
    /// input block → (down_blocks level, resnet/attention index), or the
    /// level whose downsampler it is.
    input: HashMap<usize, Slot>,
    /// output block → (up_blocks level, index).
    output: HashMap<usize, (usize, usize)>,
}

#[derive(Debug, Clone, Copy)]
enum Slot {
    Block(usize, usize),
    Downsampler(usize),
}

impl UnetLayout {
    fn read(rests: &BTreeSet<&str>) -> UnetLayout {
        let mut layout = UnetLayout::default();
        let (mut level, mut i) = (0, 0);
        for n in block_indices(rests, "input_blocks.")
            .into_iter()
            .filter(|n| *n > 0)
        {
            if rests.contains(format!("input_blocks.{n}.0.op").as_str()) {
                layout.input.insert(n, Slot::Downsampler(level));
                (level, i) = (level + 1, 0);
            } else {
                layout.input.insert(n, Slot::Block(level, i));
                i += 1;
            }
        }
        let (mut level, mut i) = (0, 0);
        for n in block_indices(rests, "output_blocks.") {
            layout.output.insert(n, (level, i));
            let upsampler =
                (1..=2).any(|c| rests.contains(format!("output_blocks.{n}.{c}.conv").as_str()));
            if upsampler {
                (level, i) = (level + 1, 0);
            } else {
                i += 1;
            }
        }
        layout
    }

    /// The diffusers names (without `.weight`) of an LDM UNet weight.
    fn diffusers_names(&self, rest: &str) -> Vec<String> {
        if let Some((_, names)) = BASIC.iter().find(|(ldm, _)| *ldm == rest) {
            return names.iter().map(|n| n.to_string()).collect();
        }
        let parts: Vec<&str> = rest.splitn(4, '.').collect();
        let name = match parts.as_slice() {
            ["input_blocks", n, j, tail] => self.input_name(n, j, tail),
            ["output_blocks", n, j, tail] => self.output_name(n, j, tail),
            ["middle_block", j, tail @ ..] => middle_name(j, &tail.join(".")),
            _ => None,
        };
        name.into_iter().collect()
    }

    fn input_name(&self, n: &str, j: &str, tail: &str) -> Option<String> {
        match (*self.input.get(&n.parse().ok()?)?, j) {
            (Slot::Downsampler(x), "0") if tail == "op" => {
                Some(format!("down_blocks.{x}.downsamplers.0.conv"))
            }
            (Slot::Block(x, i), "0") => {
                resnet(tail).map(|r| format!("down_blocks.{x}.resnets.{i}.{r}"))
            }
            (Slot::Block(x, i), "1") => Some(format!("down_blocks.{x}.attentions.{i}.{tail}")),
            _ => None,
        }
    }

    fn output_name(&self, n: &str, j: &str, tail: &str) -> Option<String> {
        let (x, i) = *self.output.get(&n.parse().ok()?)?;
        match j {
            "0" => resnet(tail).map(|r| format!("up_blocks.{x}.resnets.{i}.{r}")),
            "1" | "2" if tail == "conv" => Some(format!("up_blocks.{x}.upsamplers.0.conv")),
            "1" => Some(format!("up_blocks.{x}.attentions.{i}.{tail}")),
            _ => None,
        }
    }
}

fn middle_name(j: &str, tail: &str) -> Option<String> {
    match j {
        "0" => resnet(tail).map(|r| format!("mid_block.resnets.0.{r}")),
        "1" => Some(format!("mid_block.attentions.0.{tail}")),
        "2" => resnet(tail).map(|r| format!("mid_block.resnets.1.{r}")),
        _ => None,
    }
}

fn resnet(ldm: &str) -> Option<&'static str> {
    RESNET.iter().find(|(l, _)| *l == ldm).map(|(_, d)| *d)
}

/// Sorted distinct `N` of `<prefix>N.` among the names.
fn block_indices(rests: &BTreeSet<&str>, prefix: &str) -> Vec<usize> {
    let set: BTreeSet<usize> = rests
        .iter()
        .filter_map(|r| r.strip_prefix(prefix)?.split('.').next()?.parse().ok())
        .collect();
    set.into_iter().collect()
}
