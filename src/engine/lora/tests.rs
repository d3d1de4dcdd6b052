//! Key mapping against the full real layouts, and merges against the
//! reference fixtures of `tests/reference/make_lora_fixtures.py`.

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};

use super::*;
use crate::catalog::testkit::{self, TensorSpec};

mod parity;
mod unet_parity;

/// The checkpoint's key map and its weight shapes.
fn checkpoint(name: &str) -> (KeyMap, HashMap<String, Vec<usize>>) {
    let specs = testkit::layout(name);
    let shapes: HashMap<String, Vec<usize>> = specs
        .iter()
        .map(|t| {
            (
                t.name.clone(),
                t.shape.iter().map(|d| *d as usize).collect(),
            )
        })
        .collect();
    let map = KeyMap::from_checkpoint(specs.iter().map(|t| t.name.as_str()));
    (map, shapes)
}

/// The shape a target's adapter must produce: the weight's, or its part.
fn target_shape(target: &Target, shapes: &HashMap<String, Vec<usize>>) -> Vec<usize> {
    let mut shape = shapes
        .get(&target.key)
        .unwrap_or_else(|| panic!("{} is not a weight of the checkpoint", target.key))
        .clone();
    if let Some(part) = target.part {
        shape[0] /= part.of;
    }
    shape
}

/// Every module of a template maps to a weight of the checkpoint whose
/// shape (or fused part's shape) is the module's.
fn assert_template_maps(template: &str, checkpoint_name: &str, expected: usize) {
    let (map, shapes) = checkpoint(checkpoint_name);
    let modules = testkit::lora_template(template);
    assert_eq!(modules.len(), expected, "{template} module count");
    let mut unmapped = Vec::new();
    for m in &modules {
        let Some(target) = map.get(&m.module) else {
            unmapped.push(m.module.clone());
            continue;
        };
        let want: Vec<usize> = m.shape.iter().map(|d| *d as usize).collect();
        assert_eq!(
            target_shape(target, &shapes),
            want,
            "{} → {}",
            m.module,
            target.key
        );
    }
    assert_eq!(
        unmapped,
        Vec::<String>::new(),
        "{template} on {checkpoint_name}"
    );
}

#[test]
fn every_sd15_kohya_module_maps_to_an_sd15_weight() {
    assert_template_maps("sd15_kohya", "sd15_checkpoint", 264);
}

#[test]
fn every_sdxl_kohya_module_maps_to_an_sdxl_weight() {
    assert_template_maps("sdxl_kohya", "sdxl_base_checkpoint", 986);
}

/// Module names of a fixture layout (what precedes the given suffix).
fn module_names(specs: &[TensorSpec], suffix: &str) -> Vec<String> {
    specs
        .iter()
        .filter_map(|t| t.name.strip_suffix(suffix).map(str::to_string))
        .collect()
}

#[test]
fn peft_names_of_the_templates_map_too() {
    let (map, _) = checkpoint("sd15_checkpoint");
    let names = module_names(
        &testkit::peft_lora_layout("sd15_kohya", 4),
        ".lora_A.weight",
    );
    assert_eq!(names.len(), 264);
    let unmapped: Vec<&String> = names.iter().filter(|m| map.get(m).is_none()).collect();
    assert!(
        unmapped.is_empty(),
        "{} unmapped, e.g. {:?}",
        unmapped.len(),
        &unmapped[..unmapped.len().min(5)]
    );
    // The SDXL template's UNet modules are in LDM spelling, which no PEFT
    // file uses; its text-encoder modules become text_encoder(_2).*.
    let (map, _) = checkpoint("sdxl_base_checkpoint");
    let names = module_names(
        &testkit::peft_lora_layout("sdxl_kohya", 4),
        ".lora_A.weight",
    );
    let te: Vec<&String> = names
        .iter()
        .filter(|m| m.starts_with("text_encoder"))
        .collect();
    assert_eq!(te.len(), 264, "72 CLIP-L + 192 OpenCLIP-G modules");
    assert!(te.iter().all(|m| map.get(m).is_some()));
}

#[test]
fn diffusers_and_ldm_spellings_reach_the_same_weight() {
    let (map, _) = checkpoint("sdxl_base_checkpoint");
    let key = "model.diffusion_model.input_blocks.4.1.transformer_blocks.1.attn2.to_out.0.weight";
    for name in [
        "lora_unet_input_blocks_4_1_transformer_blocks_1_attn2_to_out_0",
        "lora_unet_down_blocks_1_attentions_0_transformer_blocks_1_attn2_to_out_0",
        "lycoris_down_blocks_1_attentions_0_transformer_blocks_1_attn2_to_out_0",
        "unet.down_blocks.1.attentions.0.transformer_blocks.1.attn2.processor.to_out",
        "down_blocks.1.attentions.0.transformer_blocks.1.attn2.processor.to_out",
        "unet.down_blocks.1.attentions.0.transformer_blocks.1.attn2.to_out.0",
        "diffusion_model.input_blocks.4.1.transformer_blocks.1.attn2.to_out.0",
    ] {
        assert_eq!(map.get(name).map(|t| t.key.as_str()), Some(key), "{name}");
    }
    let resnet = map
        .get("lora_unet_up_blocks_0_resnets_2_conv_shortcut")
        .map(|t| t.key.as_str());
    assert_eq!(
        resnet,
        Some("model.diffusion_model.output_blocks.2.0.skip_connection.weight")
    );
    let up = map
        .get("lora_unet_up_blocks_1_upsamplers_0_conv")
        .map(|t| t.key.as_str());
    assert_eq!(
        up,
        Some("model.diffusion_model.output_blocks.5.2.conv.weight")
    );
    let down = map
        .get("lora_unet_down_blocks_1_downsamplers_0_conv")
        .map(|t| t.key.as_str());
    assert_eq!(
        down,
        Some("model.diffusion_model.input_blocks.6.0.op.weight")
    );
    // SDXL has no fourth level and no third downsampler.
    assert!(
        map.get("lora_unet_down_blocks_2_downsamplers_0_conv")
            .is_none()
    );
}

#[test]
fn sd15_diffusers_blocks_follow_the_four_levels() {
    let (map, _) = checkpoint("sd15_checkpoint");
    let cases = [
        (
            "lora_unet_down_blocks_3_resnets_1_conv2",
            "input_blocks.11.0.out_layers.3",
        ),
        (
            "lora_unet_up_blocks_0_upsamplers_0_conv",
            "output_blocks.2.1.conv",
        ),
        (
            "lora_unet_up_blocks_3_attentions_2_proj_out",
            "output_blocks.11.1.proj_out",
        ),
        (
            "lora_unet_mid_block_resnets_1_time_emb_proj",
            "middle_block.2.emb_layers.1",
        ),
        ("lora_unet_conv_in", "input_blocks.0.0"),
        ("lora_unet_time_embedding_linear_2", "time_embed.2"),
    ];
    for (name, ldm) in cases {
        let key = format!("model.diffusion_model.{ldm}.weight");
        assert_eq!(map.get(name).map(|t| t.key.clone()), Some(key), "{name}");
    }
}

#[test]
fn openclip_projections_target_thirds_of_the_fused_weight() {
    let (map, _) = checkpoint("sdxl_base_checkpoint");
    let fused = "conditioner.embedders.1.model.transformer.resblocks.7.attn.in_proj_weight";
    for (i, p) in ["q", "k", "v"].iter().enumerate() {
        for name in [
            format!("lora_te2_text_model_encoder_layers_7_self_attn_{p}_proj"),
            format!("text_encoder_2.text_model.encoder.layers.7.self_attn.{p}_proj"),
        ] {
            let t = map.get(&name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(
                (t.key.as_str(), t.part),
                (fused, Some(Part { index: i, of: 3 }))
            );
        }
    }
    let te1 = map
        .get("lora_te1_text_model_encoder_layers_0_mlp_fc1")
        .map(|t| t.key.clone());
    assert_eq!(
        te1.as_deref(),
        Some("conditioner.embedders.0.transformer.text_model.encoder.layers.0.mlp.fc1.weight")
    );
    assert_eq!(
        map.get("lora_te1_text_model_encoder_layers_0_mlp_fc1")
            .map(Target::group),
        Some(Group::TextEncoder)
    );
}

#[test]
fn sd2_text_encoder_is_open_clip_h_under_lora_te() {
    let (map, shapes) = checkpoint("sd21_768_v_checkpoint");
    let t = map
        .get("lora_te_text_model_encoder_layers_22_self_attn_v_proj")
        .expect("SD2 v_proj");
    assert_eq!(
        t.key,
        "cond_stage_model.model.transformer.resblocks.22.attn.in_proj_weight"
    );
    assert_eq!(t.part, Some(Part { index: 2, of: 3 }));
    assert_eq!(target_shape(t, &shapes), vec![1024, 1024]);
    let fc2 = map
        .get("text_encoder.text_model.encoder.layers.3.mlp.fc2")
        .expect("fc2");
    assert_eq!(
        fc2.key,
        "cond_stage_model.model.transformer.resblocks.3.mlp.c_proj.weight"
    );
    assert!(
        map.get("lora_te2_text_model_encoder_layers_0_mlp_fc1")
            .is_none()
    );
}

#[test]
fn refiner_open_clip_g_alone_takes_lora_te() {
    let (map, _) = checkpoint("sdxl_refiner_checkpoint");
    let t = map
        .get("lora_te_text_model_encoder_layers_0_self_attn_q_proj")
        .expect("q");
    assert_eq!(
        t.key,
        "conditioner.embedders.0.model.transformer.resblocks.0.attn.in_proj_weight"
    );
    assert!(
        map.get("lora_te1_text_model_encoder_layers_0_self_attn_q_proj")
            .is_none()
    );
}

/// Zero tensors in the shapes of a header-only fixture layout.
fn zeros(specs: &[TensorSpec]) -> HashMap<String, Tensor> {
    specs
        .iter()
        .map(|t| {
            let shape: Vec<usize> = t.shape.iter().map(|d| *d as usize).collect();
            let tensor = Tensor::zeros(shape, DType::F16, &Device::Cpu).expect("zeros");
            (t.name.clone(), tensor)
        })
        .collect()
}

#[test]
fn a_whole_kohya_sdxl_lora_is_applied_with_nothing_left_out() {
    let (map, _) = checkpoint("sdxl_base_checkpoint");
    let mut set = LoraSet::new();
    let lora = zeros(&testkit::lora_layout("sdxl_kohya", 2));
    let report = set
        .add_tensors(
            "xl",
            lora,
            Strengths {
                model: 0.8,
                clip: 0.5,
            },
            &map,
        )
        .clone();
    assert!(report.is_complete(), "{report}");
    assert_eq!((report.modules, report.mapped), (986, 986));
    assert_eq!(report.unet_patches + report.text_encoder_patches, 986);
    let fused = "conditioner.embedders.1.model.transformer.resblocks.0.attn.in_proj_weight";
    let patches = set.patches_for(fused);
    assert_eq!(patches.len(), 3, "q, k and v each patch a third");
    assert!(patches.iter().all(|p| p.strength == 0.5));
    let unet = set.patches_for("model.diffusion_model.input_blocks.4.1.proj_in.weight");
    assert_eq!(unet.len(), 1);
    assert_eq!(unet[0].strength, 0.8);
}

#[test]
fn loha_lokr_and_peft_layouts_are_applied_whole() {
    let (map, _) = checkpoint("sd15_checkpoint");
    let layouts = [
        ("loha", testkit::loha_layout("sd15_kohya", 2)),
        ("lokr", testkit::lokr_layout("sd15_kohya")),
        ("peft", testkit::peft_lora_layout("sd15_kohya", 2)),
    ];
    for (name, specs) in layouts {
        let mut set = LoraSet::new();
        let report = set.add_tensors(name, zeros(&specs), Strengths::both(1.0), &map);
        assert!(report.is_complete(), "{report}");
        assert_eq!(report.mapped, 264, "{name}");
    }
}

#[test]
fn the_real_sdxl_lora_maps_completely() {
    let (map, _) = checkpoint("sdxl_base_checkpoint");
    let mut set = LoraSet::new();
    let path = std::path::Path::new(testkit::REAL_SDXL_LORA);
    let report = set
        .add_file(path, Strengths::both(1.0), &map)
        .expect("read")
        .clone();
    assert!(report.is_complete(), "{report}");
    assert_eq!(report.mapped, 84);
}

#[test]
fn a_lora_for_another_model_is_reported_as_a_mismatch() {
    let (map, _) = checkpoint("sd15_checkpoint");
    let mut set = LoraSet::new();
    let report = set.add_tensors(
        "xl-on-15",
        zeros(&testkit::lora_layout("sdxl_kohya", 1)),
        Strengths::both(1.0),
        &map,
    );
    assert!(report.mismatch(), "{report}");
    assert!(report.unmapped.len() > 700, "{}", report.unmapped.len());
    assert!(
        report
            .to_string()
            .contains("does not look made for this model")
    );
    let flux = set.add_tensors(
        "flux",
        zeros(&testkit::lora_layout("flux_kohya", 1)),
        Strengths::both(1.0),
        &map,
    );
    assert_eq!(flux.mapped, 0);
    assert!(flux.mismatch());
}

#[test]
fn unknown_tensors_and_broken_modules_are_named() {
    let (map, _) = checkpoint("sd15_checkpoint");
    let t = |shape: &[usize]| Tensor::zeros(shape, DType::F32, &Device::Cpu).expect("zeros");
    let m = "lora_unet_down_blocks_0_attentions_0_proj_in";
    let tensors = HashMap::from([
        (format!("{m}.lora_up.weight"), t(&[320, 4, 1, 1])),
        (
            "lora_unet_mid_block_attentions_0_proj_out.alpha".to_string(),
            t(&[]),
        ),
        (
            "lora_unet_conv_in.lora_down.weight".to_string(),
            t(&[4, 4, 3, 3]),
        ),
        ("something_else.weird".to_string(), t(&[2])),
    ]);
    let mut set = LoraSet::new();
    let report = set.add_tensors("broken", tensors, Strengths::both(1.0), &map);
    assert_eq!(
        report.unknown_tensors,
        vec!["something_else.weird".to_string()]
    );
    let broken: Vec<&str> = report.unsupported.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(
        broken,
        vec![
            "lora_unet_conv_in",
            m,
            "lora_unet_mid_block_attentions_0_proj_out",
        ]
    );
    assert!(
        report.unsupported[1].1.contains("down matrix is missing"),
        "{:?}",
        report.unsupported
    );
    assert_eq!(report.mapped, 0);
    assert!(set.is_empty());
}

#[test]
fn pickles_are_refused_unread() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("old.pt");
    std::fs::write(&path, b"\x80\x02}q\x00.").expect("write");
    let mut set = LoraSet::new();
    let err = set
        .add_file(&path, Strengths::both(1.0), &KeyMap::default())
        .expect_err("pickle");
    assert!(matches!(err, LoraError::Pickle { .. }), "{err}");
    let disguised = dir.path().join("old.safetensors");
    std::fs::write(&disguised, b"PK\x03\x04rest-of-a-zip").expect("write");
    let err = set
        .add_file(&disguised, Strengths::both(1.0), &KeyMap::default())
        .expect_err("zip");
    assert!(matches!(err, LoraError::Pickle { .. }), "{err}");
}

#[test]
fn broken_safetensors_are_an_error_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    for how in testkit::Broken::ALL {
        let path = dir.path().join(format!("{how:?}.safetensors"));
        testkit::write_broken(&path, *how).expect("write");
        let mut set = LoraSet::new();
        match set.add_file(&path, Strengths::both(1.0), &KeyMap::default()) {
            Err(e) => assert!(e.to_string().contains(&format!("{how:?}")), "{e}"),
            Ok(report) => {
                let must_fail = [
                    testkit::Broken::Empty,
                    testkit::Broken::TooShort,
                    testkit::Broken::NotJson,
                    testkit::Broken::HeaderTooLarge,
                    testkit::Broken::DataTruncated,
                ];
                assert!(!must_fail.contains(how), "{how:?} was read: {report}");
            }
        }
    }
}

#[test]
fn two_modules_of_one_file_on_one_weight_are_reported_not_doubled() {
    let (map, _) = checkpoint("sd15_checkpoint");
    let t = |shape: &[usize]| Tensor::ones(shape, DType::F32, &Device::Cpu).expect("ones");
    let tensors = HashMap::from([
        (
            "lora_unet_conv_in.lora_up.weight".to_string(),
            t(&[320, 1, 1, 1]),
        ),
        (
            "lora_unet_conv_in.lora_down.weight".to_string(),
            t(&[1, 4, 3, 3]),
        ),
        (
            "lora_unet_input_blocks_0_0.lora_up.weight".to_string(),
            t(&[320, 1, 1, 1]),
        ),
        (
            "lora_unet_input_blocks_0_0.lora_down.weight".to_string(),
            t(&[1, 4, 3, 3]),
        ),
    ]);
    let mut set = LoraSet::new();
    let report = set
        .add_tensors("dup", tensors, Strengths::both(1.0), &map)
        .clone();
    assert_eq!((report.modules, report.mapped), (2, 1));
    assert_eq!(report.unsupported.len(), 1, "{report}");
    assert_eq!(
        set.patches_for("model.diffusion_model.input_blocks.0.0.weight")
            .len(),
        1
    );
}

/// The diffusers numbering read off the keys reaches every UNet weight of
/// every SD-family layout; the refiner's deepest level has no attention, so
/// its upsampler sits at index 1.
#[test]
fn diffusers_names_cover_every_unet_weight_of_each_layout() {
    for layout in [
        "sd15_checkpoint",
        "sd21_768_v_checkpoint",
        "sdxl_base_checkpoint",
        "sdxl_refiner_checkpoint",
    ] {
        let (map, shapes) = checkpoint(layout);
        let reached: std::collections::HashSet<&str> = map
            .modules()
            .filter(|(name, _)| name.starts_with("lycoris_"))
            .map(|(_, t)| t.key.as_str())
            .collect();
        let missing: Vec<&String> = shapes
            .keys()
            .filter(|k| k.starts_with(UNET_PREFIX) && k.ends_with(".weight"))
            .filter(|k| !reached.contains(k.as_str()))
            .collect();
        assert!(missing.is_empty(), "{layout}: {missing:?}");
        assert!(reached.len() > 300, "{layout}: {}", reached.len());
    }
    let (map, _) = checkpoint("sdxl_refiner_checkpoint");
    let key = map
        .get("lora_unet_up_blocks_0_upsamplers_0_conv")
        .map(|t| t.key.clone());
    assert_eq!(
        key.as_deref(),
        Some("model.diffusion_model.output_blocks.2.1.conv.weight")
    );
}

#[test]
fn old_sd1_checkpoints_without_text_model_level_still_map() {
    let keys: Vec<String> = testkit::layout("sd15_checkpoint")
        .into_iter()
        .map(|t| {
            t.name.replace(
                "cond_stage_model.transformer.text_model.",
                "cond_stage_model.transformer.",
            )
        })
        .collect();
    let map = KeyMap::from_checkpoint(keys.iter().map(String::as_str));
    let t = map
        .get("lora_te_text_model_encoder_layers_11_mlp_fc2")
        .expect("te");
    assert_eq!(
        t.key,
        "cond_stage_model.transformer.encoder.layers.11.mlp.fc2.weight"
    );
}

/// SD1.5 LoRA names all exist in SD2, but the text encoder and the
/// cross-attention key/value widths differ: those patches are dropped and
/// reported (ComfyUI logs and skips them), the rest merge.
#[test]
fn misfitting_patches_are_dropped_and_reported() {
    let (map, shapes) = checkpoint("sd21_768_v_checkpoint");
    let mut set = LoraSet::new();
    let lora = zeros(&testkit::lora_layout("sd15_kohya", 2));
    let before = set
        .add_tensors("sd15-on-sd2", lora, Strengths::both(1.0), &map)
        .mapped;
    assert_eq!(before, 264, "every name exists in SD2");
    let dropped = set.drop_misfits(|k| shapes.get(k).cloned());
    assert_eq!(
        dropped,
        72 + 32,
        "72 text-encoder + 32 attn2 to_k/to_v patches"
    );
    let report = &set.reports()[0];
    assert_eq!(report.mapped, 264 - 104);
    assert_eq!(report.unsupported.len(), 104);
    assert!(
        report.unsupported[0].1.contains("adapter makes"),
        "{:?}",
        report.unsupported[0]
    );
    assert!(
        report.to_string().contains("104 modules unsupported"),
        "{report}"
    );
    for key in set.keys().map(str::to_string).collect::<Vec<_>>() {
        let weight = Tensor::zeros(shapes[&key].clone(), DType::F16, &Device::Cpu).expect("w");
        set.merged(&key, &weight).unwrap_or_else(|e| panic!("{e}"));
    }
    // On its own checkpoint nothing is dropped.
    let (map, shapes) = checkpoint("sd15_checkpoint");
    let mut set = LoraSet::new();
    set.add_tensors(
        "sd15",
        zeros(&testkit::lora_layout("sd15_kohya", 2)),
        Strengths::both(1.0),
        &map,
    );
    assert_eq!(set.drop_misfits(|k| shapes.get(k).cloned()), 0);
}
