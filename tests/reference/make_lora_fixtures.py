#!/usr/bin/env python3
"""Reference fixtures for src/engine/lora: tiny LoRA files in each naming
style, tiny "original weights" under real LDM checkpoint keys, and the merged
weights ComfyUI would compute.

The merged weights come from a line-by-line transcription of ComfyUI's
`calculate_weight` and its weight adapters (comfy/lora.py,
comfy/weight_adapter/{lora,loha,lokr,base}.py) into numpy float32: the
"REFERENCE (ComfyUI transcription)" functions below. Where they apply (plain
LoRA on a linear or 1x1 conv), the merge is cross-checked against the
PEFT/kohya definition of a LoRA as a forward pass, W'x = Wx + s*scale*B(Ax),
on random inputs.

Run from the repository root (numbers are reproducible: fixed seed):

    python3 -m venv /tmp/lora-venv
    /tmp/lora-venv/bin/pip install numpy==2.4.6 safetensors==0.8.0
    /tmp/lora-venv/bin/python tests/reference/make_lora_fixtures.py

It writes tests/data/reference/lora/ (a few tens of kilobytes):
    base_sd15.safetensors, base_sdxl.safetensors   original weights
    <lora>.safetensors                             one LoRA per style
    expected_<scenario>.safetensors                merged weights, f32
    manifest.json                                  scenarios: base, layout, LoRAs and strengths

safetensors' numpy API has no bfloat16, so files are written by `save`
below (the format is a JSON header and raw little-endian bytes).
"""

import json
import os
import struct

import numpy as np

OUT = os.path.join("tests", "data", "reference", "lora")
RNG = np.random.default_rng(20261122)

F16, F32, BF16 = "F16", "F32", "BF16"


# ---------------------------------------------------------------- file I/O


def to_bf16_exact(x):
    """Round f32 values to bfloat16 (nearest even) and back, so they are
    exactly representable in bf16."""
    bits = np.asarray(x, dtype=np.float32).view(np.uint32)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000).astype(np.uint32)
    return rounded.view(np.float32)


def as_stored(x, dtype):
    """The f32 values a tensor holds once stored in `dtype`."""
    x = np.asarray(x, dtype=np.float32)
    if dtype == F16:
        return x.astype(np.float16).astype(np.float32)
    if dtype == BF16:
        return to_bf16_exact(x)
    return x


def raw(x, dtype):
    x = as_stored(x, dtype)
    if dtype == F16:
        return x.astype("<f2").tobytes()
    if dtype == BF16:
        return (x.view(np.uint32) >> 16).astype("<u2").tobytes()
    return x.astype("<f4").tobytes()


def save(path, tensors):
    """tensors: name -> (f32 array, dtype)."""
    header, blobs, at = {}, [], 0
    for name in sorted(tensors):
        value, dtype = tensors[name]
        blob = raw(value, dtype)
        header[name] = {"dtype": dtype, "shape": list(np.shape(value)), "data_offsets": [at, at + len(blob)]}
        blobs.append(blob)
        at += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def randn(*shape, scale=1.0):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


# ------------------------------------- REFERENCE (ComfyUI transcription)
# Each function mirrors one branch of ComfyUI's calculate_weight with
# intermediate_dtype=float32. `weight` is float32; factors are cast to
# float32 first (cast_to_device(..., intermediate_dtype)); `strength * alpha`
# is a Python float product, rounded to float32 when it scales a tensor.


def f32(x):
    return np.asarray(x, dtype=np.float32)


def scaled_add(weight, diff, strength, alpha):
    return weight + np.float32(strength * alpha) * diff


def weight_decompose(dora_scale, weight, lora_diff, alpha, strength):
    lora_diff = lora_diff * np.float32(alpha)
    weight_calc = weight + lora_diff
    cols = np.swapaxes(weight_calc, 0, 1).reshape(weight_calc.shape[1], -1)
    norm = np.sqrt(np.sum(cols * cols, axis=1, keepdims=True, dtype=np.float32))
    norm = np.swapaxes(norm.reshape(weight_calc.shape[1], *[1] * (weight_calc.ndim - 1)), 0, 1)
    weight_calc = weight_calc * (f32(dora_scale) / norm)
    if strength != 1.0:
        weight_calc = weight_calc - weight
        return weight + np.float32(strength) * weight_calc
    return weight_calc


def finish(weight, diff, adapter, alpha, strength):
    diff = diff.reshape(weight.shape)
    if adapter.get("dora_scale") is not None:
        return weight_decompose(adapter["dora_scale"], weight, diff, alpha, strength)
    return scaled_add(weight, diff, strength, alpha)


def flat(x):
    return x.reshape(x.shape[0], -1)


def calc_lora(weight, a, strength):
    mat1, mat2 = f32(a["up"]), f32(a["down"])
    alpha = a["alpha"] / mat2.shape[0] if a.get("alpha") is not None else 1.0
    if a.get("mid") is not None:
        mat3 = f32(a["mid"])
        final_shape = [mat2.shape[1], mat2.shape[0], mat3.shape[2], mat3.shape[3]]
        mat2 = np.swapaxes(
            (flat(np.swapaxes(mat2, 0, 1)) @ flat(np.swapaxes(mat3, 0, 1))).reshape(final_shape), 0, 1
        )
    diff = flat(mat1) @ flat(mat2)
    return finish(weight, diff, a, alpha, strength)


def tucker(t, wb, wa):
    return np.einsum("ijkl,jr,ip->prkl", f32(t), f32(wb), f32(wa))


def calc_loha(weight, a, strength):
    alpha = a["alpha"] / a["w1b"].shape[0] if a.get("alpha") is not None else 1.0
    if a.get("t1") is not None:
        m1 = tucker(a["t1"], a["w1b"], a["w1a"])
        m2 = tucker(a["t2"], a["w2b"], a["w2a"])
    else:
        m1 = f32(a["w1a"]) @ f32(a["w1b"])
        m2 = f32(a["w2a"]) @ f32(a["w2b"])
    return finish(weight, m1 * m2, a, alpha, strength)


def calc_lokr(weight, a, strength):
    dim = None
    if a.get("w1") is None:
        dim = a["w1_b"].shape[0]
        w1 = f32(a["w1_a"]) @ f32(a["w1_b"])
    else:
        w1 = f32(a["w1"])
    if a.get("w2") is None:
        dim = a["w2_b"].shape[0]
        if a.get("t2") is None:
            w2 = f32(a["w2_a"]) @ f32(a["w2_b"])
        else:
            w2 = tucker(a["t2"], a["w2_b"], a["w2_a"])
    else:
        w2 = f32(a["w2"])
    if w2.ndim == 4:
        w1 = w1[:, :, None, None]
    alpha = a["alpha"] / dim if (a.get("alpha") is not None and dim is not None) else 1.0
    return finish(weight, np.kron(w1, w2), a, alpha, strength)


def calc_diff(weight, a, strength):
    return weight + np.float32(strength) * f32(a["diff"])


CALC = {"lora": calc_lora, "loha": calc_loha, "lokr": calc_lokr, "diff": calc_diff}


def calculate_weight(patches, weight):
    """patches: [(strength, adapter, offset)], offset None or (start, size) on dim 0."""
    weight = weight.copy()
    for strength, adapter, offset in patches:
        if offset is None:
            weight = CALC[adapter["type"]](weight, adapter, strength)
        else:
            start, size = offset
            part = CALC[adapter["type"]](weight[start : start + size].copy(), adapter, strength)
            weight[start : start + size] = part
    return weight


# ------------------------------------------------- independent cross-check


def check_forward(weight, adapter, strength, merged):
    """PEFT/kohya: a LoRA adds s*scale*B(A x) to the layer's output."""
    if adapter["type"] != "lora" or adapter.get("mid") is not None or adapter.get("dora_scale") is not None:
        return None
    if weight.ndim == 4 and weight.shape[2:] != (1, 1):
        return None
    w = weight.reshape(weight.shape[0], -1).astype(np.float64)
    up = f32(adapter["up"]).reshape(adapter["up"].shape[0], -1).astype(np.float64)
    down = f32(adapter["down"]).reshape(adapter["down"].shape[0], -1).astype(np.float64)
    scale = adapter["alpha"] / down.shape[0] if adapter.get("alpha") is not None else 1.0
    x = RNG.standard_normal((w.shape[1], 5))
    want = w @ x + strength * scale * (up @ (down @ x))
    got = merged.reshape(merged.shape[0], -1).astype(np.float64) @ x
    err = np.max(np.abs(got - want)) / max(1.0, np.max(np.abs(want)))
    assert err < 1e-5, err
    return err


# --------------------------------------------------------------- fixtures

SD15 = {
    "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": ((8, 6), F16),
    "model.diffusion_model.input_blocks.1.1.proj_in.weight": ((8, 8, 1, 1), F32),
    "model.diffusion_model.input_blocks.1.0.in_layers.2.weight": ((8, 4, 3, 3), F32),
    "cond_stage_model.transformer.text_model.encoder.layers.0.self_attn.q_proj.weight": ((6, 6), BF16),
    "model.diffusion_model.output_blocks.3.1.transformer_blocks.0.ff.net.2.weight": ((6, 12), F16),
    "model.diffusion_model.middle_block.1.transformer_blocks.0.attn1.to_out.0.weight": ((8, 8), F32),
    "model.diffusion_model.middle_block.1.transformer_blocks.0.attn1.to_out.0.bias": ((8,), F32),
}
SDXL = {
    "conditioner.embedders.1.model.transformer.resblocks.0.attn.in_proj_weight": ((12, 4), F16),
    "conditioner.embedders.1.model.transformer.resblocks.0.mlp.c_fc.weight": ((8, 4), F32),
    "conditioner.embedders.0.transformer.text_model.encoder.layers.0.mlp.fc1.weight": ((8, 4), F16),
    "model.diffusion_model.input_blocks.4.1.transformer_blocks.0.attn1.to_q.weight": ((8, 8), BF16),
}

A = "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"
B = "model.diffusion_model.input_blocks.1.1.proj_in.weight"
C = "model.diffusion_model.input_blocks.1.0.in_layers.2.weight"
D = "cond_stage_model.transformer.text_model.encoder.layers.0.self_attn.q_proj.weight"
E = "model.diffusion_model.output_blocks.3.1.transformer_blocks.0.ff.net.2.weight"
F = "model.diffusion_model.middle_block.1.transformer_blocks.0.attn1.to_out.0.weight"
F_BIAS = "model.diffusion_model.middle_block.1.transformer_blocks.0.attn1.to_out.0.bias"
G = "conditioner.embedders.1.model.transformer.resblocks.0.attn.in_proj_weight"
H = "conditioner.embedders.0.transformer.text_model.encoder.layers.0.mlp.fc1.weight"
I = "model.diffusion_model.input_blocks.4.1.transformer_blocks.0.attn1.to_q.weight"
J = "conditioner.embedders.1.model.transformer.resblocks.0.mlp.c_fc.weight"


def f16(x):
    return as_stored(x, F16)


def lora(up, down, alpha=None, mid=None, dora_scale=None):
    return {"type": "lora", "up": f16(up), "down": f16(down), "alpha": alpha, "mid": mid, "dora_scale": dora_scale}


def alpha16(value):
    """alpha as ComfyUI reads it from an F16 scalar: tensor.item()."""
    return float(np.float16(value))


class Lora:
    """One LoRA file: module name -> (target key, offset, adapter) and the
    tensors written for it."""

    def __init__(self, name):
        self.name, self.modules, self.tensors = name, [], {}

    def put(self, name, value, dtype=F16):
        self.tensors[name] = (as_stored(value, dtype), dtype)
        return as_stored(value, dtype)

    def add(self, module, target, adapter, offset=None, names=None):
        names = names or {}
        for field, value in adapter.items():
            if field == "type" or value is None:
                continue
            if field == "alpha":
                self.put(f"{module}.alpha", np.float32(value))
                adapter["alpha"] = alpha16(value)
                continue
            suffix = names.get(field, "." + field)
            adapter[field] = self.put(module + suffix, value)
        self.modules.append((module, target, offset, adapter))


KOHYA = {"up": ".lora_up.weight", "down": ".lora_down.weight", "mid": ".lora_mid.weight", "dora_scale": ".dora_scale"}
PEFT = {"up": ".lora_B.weight", "down": ".lora_A.weight"}
PROCESSOR = {"up": "_lora.up.weight", "down": "_lora.down.weight"}
HADA = {f: f".hada_{f[:2]}_{f[2]}" for f in ["w1a", "w1b", "w2a", "w2b"]} | {"t1": ".hada_t1", "t2": ".hada_t2"}
LOKR = {f: f".lokr_{f}" for f in ["w1", "w2", "w1_a", "w1_b", "w2_a", "w2_b", "t2"]}


def sd15_loras():
    out = []
    k = Lora("sd15_kohya")
    k.add("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k", A,
          lora(randn(8, 2), randn(2, 6), alpha=1.0), names=KOHYA)
    k.add("lora_unet_down_blocks_0_attentions_0_proj_in", B,
          lora(randn(8, 2, 1, 1), randn(2, 8, 1, 1), alpha=2.0), names=KOHYA)
    k.add("lora_unet_down_blocks_0_resnets_0_conv1", C,
          lora(randn(8, 2, 1, 1), randn(2, 4, 3, 3), alpha=1.5), names=KOHYA)
    k.add("lora_te_text_model_encoder_layers_0_self_attn_q_proj", D,
          lora(randn(6, 2), randn(2, 6)), names=KOHYA)
    k.add("lora_unet_output_blocks_3_1_transformer_blocks_0_ff_net_2", E,
          lora(randn(6, 3), randn(3, 12), alpha=3.0), names=KOHYA)
    out.append(k)

    m = Lora("sd15_locon_mid")
    m.add("lora_unet_input_blocks_1_0_in_layers_2", C,
          lora(randn(8, 2, 1, 1), randn(2, 4, 1, 1), alpha=2.0, mid=randn(2, 2, 3, 3)), names=KOHYA)
    out.append(m)

    h = Lora("sd15_loha")
    h.add("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k", A,
          {"type": "loha", "w1a": randn(8, 2), "w1b": randn(2, 6), "w2a": randn(8, 2), "w2b": randn(2, 6), "alpha": 1.0},
          names=HADA)
    h.add("lora_unet_input_blocks_1_0_in_layers_2", C,
          {"type": "loha", "w1a": randn(2, 8), "w1b": randn(2, 4), "w2a": randn(2, 8), "w2b": randn(2, 4),
           "t1": randn(2, 2, 3, 3), "t2": randn(2, 2, 3, 3), "alpha": 2.0},
          names=HADA)
    out.append(h)

    r = Lora("sd15_lokr")
    r.add("lora_unet_output_blocks_3_1_transformer_blocks_0_ff_net_2", E,
          {"type": "lokr", "w1_a": randn(2, 1), "w1_b": randn(1, 3), "w2": randn(3, 4), "alpha": 4.0}, names=LOKR)
    r.add("lora_unet_down_blocks_0_resnets_0_conv1", C,
          {"type": "lokr", "w1": randn(2, 2), "w2_a": randn(4, 1), "w2_b": randn(1, 18), "alpha": 0.5}, names=LOKR)
    r.add("lora_te_text_model_encoder_layers_0_self_attn_q_proj", D,
          {"type": "lokr", "w1": randn(2, 3), "w2": randn(3, 2), "alpha": 8.0}, names=LOKR)
    out.append(r)

    t = Lora("sd15_lokr_tucker")
    t.add("lora_unet_down_blocks_0_resnets_0_conv1", C,
          {"type": "lokr", "w1": randn(2, 2), "w2_a": randn(1, 4), "w2_b": randn(1, 2), "t2": randn(1, 1, 3, 3),
           "alpha": 1.0}, names=LOKR)
    out.append(t)

    p = Lora("sd15_peft")
    p.add("unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k", A,
          lora(randn(8, 4), randn(4, 6)), names=PEFT)
    p.add("text_encoder.text_model.encoder.layers.0.self_attn.q_proj", D,
          lora(randn(6, 2), randn(2, 6)), names=PEFT)
    p.add("unet.mid_block.attentions.0.transformer_blocks.0.attn1.processor.to_out", F,
          lora(randn(8, 2), randn(2, 8)), names=PROCESSOR)
    out.append(p)

    d = Lora("sd15_dora")
    d.add("lora_unet_mid_block_attentions_0_transformer_blocks_0_attn1_to_out_0", F,
          lora(randn(8, 2, scale=0.3), randn(2, 8, scale=0.3), alpha=1.0,
               dora_scale=np.abs(randn(1, 8)) + 0.5), names=KOHYA)
    bias = d.put("lora_unet_mid_block_attentions_0_transformer_blocks_0_attn1_to_out_0.diff_b", randn(8))
    d.modules.append(("(diff_b)", F_BIAS, None, {"type": "diff", "diff": bias}))
    out.append(d)
    return out


def sdxl_loras():
    k = Lora("sdxl_kohya")
    k.add("lora_te2_text_model_encoder_layers_0_self_attn_q_proj", G,
          lora(randn(4, 2), randn(2, 4), alpha=1.0), offset=(0, 4), names=KOHYA)
    k.add("lora_te2_text_model_encoder_layers_0_self_attn_v_proj", G,
          lora(randn(4, 2), randn(2, 4), alpha=4.0), offset=(8, 4), names=KOHYA)
    k.add("lora_te2_text_model_encoder_layers_0_mlp_fc1", J,
          lora(randn(8, 2), randn(2, 4), alpha=1.0), names=KOHYA)
    k.add("lora_te1_text_model_encoder_layers_0_mlp_fc1", H,
          lora(randn(8, 2), randn(2, 4), alpha=1.0), names=KOHYA)
    k.add("lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q", I,
          lora(randn(8, 2), randn(2, 8), alpha=2.0), names=KOHYA)
    p = Lora("sdxl_peft")
    p.add("text_encoder_2.text_model.encoder.layers.0.self_attn.k_proj", G,
          lora(randn(4, 2), randn(2, 4)), offset=(4, 4), names=PEFT)
    p.add("unet.down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q", I,
          lora(randn(8, 2), randn(2, 8)), names=PEFT)
    h = Lora("sdxl_loha_te2")
    h.add("lora_te2_text_model_encoder_layers_0_self_attn_k_proj", G,
          {"type": "loha", "w1a": randn(4, 2), "w1b": randn(2, 4), "w2a": randn(4, 2), "w2b": randn(2, 4), "alpha": 1.0},
          offset=(4, 4), names=HADA)
    return [k, p, h]


def is_unet(key):
    return key.startswith("model.diffusion_model.")


def scenario(name, base, loras, strengths, stats):
    """Merged f32 weights of `base` with `loras` at (model, clip) strengths."""
    merged = {}
    for key, (weight, _) in base.items():
        patches = []
        for lora_file, (s_model, s_clip) in zip(loras, strengths):
            for _, target, offset, adapter in lora_file.modules:
                if target == key:
                    s = s_model if is_unet(key) else s_clip
                    if s != 0.0:
                        patches.append((s, adapter, offset))
        out = calculate_weight(patches, weight)
        if len(patches) == 1 and patches[0][2] is None:
            err = check_forward(weight, patches[0][1], patches[0][0], out)
            if err is not None:
                stats.append(err)
        merged[key] = (out, F32)
    save(os.path.join(OUT, f"expected_{name}.safetensors"), merged)
    return {
        "name": name,
        "loras": [[l.name, s[0], s[1]] for l, s in zip(loras, strengths)],
    }


def make_base(spec):
    base = {}
    for key, (shape, dtype) in spec.items():
        base[key] = (as_stored(randn(*shape), dtype), dtype)
    return base


def main():
    os.makedirs(OUT, exist_ok=True)
    stats = []
    manifest = []
    for tag, spec, layout, loras in [
        ("sd15", SD15, "sd15_checkpoint", sd15_loras()),
        ("sdxl", SDXL, "sdxl_base_checkpoint", sdxl_loras()),
    ]:
        base = make_base(spec)
        save(os.path.join(OUT, f"base_{tag}.safetensors"), base)
        for l in loras:
            save(os.path.join(OUT, f"{l.name}.safetensors"), l.tensors)
        scenarios = [scenario(l.name, base, [l], [(0.8, 0.6)], stats) for l in loras]
        stack = [(1.0, 1.0), (0.7, -0.5)] + [(-0.4 + 0.3 * i, 1.2) for i in range(len(loras) - 2)]
        scenarios.append(scenario(f"{tag}_stack", base, loras, stack, stats))
        manifest.append({"base": f"base_{tag}.safetensors", "layout": layout, "scenarios": scenarios})
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print(f"forward-pass cross-checks: {len(stats)}, max relative error {max(stats):.2e}")


if __name__ == "__main__":
    main()
