#!/usr/bin/env python3
"""Reference fixtures for gen's networks (src/engine/models).

How to run (from the repository root; CPU only, about a minute):

    python3 -m venv /tmp/fixtures && /tmp/fixtures/bin/pip install \
        torch==2.15.0 diffusers==0.42.1 transformers==5.23.0 \
        open_clip_torch==3.3.0 safetensors==0.8.0 numpy
    /tmp/fixtures/bin/python tests/reference/make_model_fixtures.py

What it writes under tests/data/reference/models/ (all small, committed):

* ``<family>.header.jsonl``: the key/shape/dtype list of a tiny checkpoint in
  the REAL single-file LDM layout of SD1.5, SD2.x, SDXL and the SDXL
  refiner. The layout is
  checked here against the headers of real files
  (shared/samples/headers/*.json, copied to headers/): the sets of key
  patterns (indices replaced by N) are equal.
* ``<family>.reference.safetensors``: inputs and outputs of the reference
  implementations, f32.
* ``tokenizer.json``: OpenAI BPE ids from open_clip's SimpleTokenizer.

The weights are not committed: every tensor is a pure function of its key
and index (``synth`` below, a splitmix64 counter hash), rounded to the
file's dtype. The Rust tests regenerate the same checkpoint from the header
into a temporary file and load it through the real loader. This keeps the
fixtures at a few hundred KB while the tiny models stay big enough to have
several heads and levels.

Reference implementations: diffusers' UNet2DConditionModel / AutoencoderKL
and transformers' CLIPTextModel(WithProjection), each loaded from the LDM
state dict through diffusers' own single-file conversion functions
(diffusers.loaders.single_file_utils), so a layout misunderstanding on our
side cannot be mirrored here. All in float32 on the CPU.
"""

import json
import os
import re
import sys

import numpy as np
import torch
from safetensors.torch import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "data", "reference", "models")
HEADERS = os.path.join(OUT, "headers")

# --------------------------------------------------------------------------
# Deterministic weights: splitmix64 over (fnv1a64(key) + index).
# The Rust twin is `synth` in src/engine/models/tests.rs.
# --------------------------------------------------------------------------
M64 = (1 << 64) - 1


def fnv1a64(s):
    h = 0xCBF29CE484222325
    for b in s.encode():
        h ^= b
        h = (h * 0x100000001B3) & M64
    return h


def uniform(key, n):
    """n values in [-1, 1) from the key."""
    with np.errstate(over="ignore"):
        x = np.uint64(fnv1a64(key)) + np.arange(n, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    u = (z >> np.uint64(40)).astype(np.float64) / float(1 << 24)
    return (2.0 * u - 1.0).astype(np.float32)


def synth(key, shape):
    """The value of tensor `key`: fan-in scaled for matrices and kernels,
    around 1 for norm weights, small for biases."""
    n = int(np.prod(shape)) if shape else 1
    u = uniform(key, n)
    if len(shape) >= 2:
        fan_in = int(np.prod(shape[1:]))
        v = u * np.float32(1.0 / np.sqrt(fan_in))
    elif len(shape) == 1 and key.endswith("weight"):
        v = np.float32(1.0) + np.float32(0.1) * u
    elif len(shape) == 1:
        v = np.float32(0.05) * u
    else:
        v = np.full(1, 4.6055, dtype=np.float32)
    return v.reshape(shape)


# --------------------------------------------------------------------------
# Tiny layouts in the original LDM names.
# --------------------------------------------------------------------------
class Layout:
    def __init__(self, dtype):
        self.dtype = dtype
        self.entries = []  # (key, shape, dtype)

    def add(self, key, shape, dtype=None):
        self.entries.append((key, list(shape), dtype or self.dtype))

    def norm(self, p, c):
        self.add(p + ".weight", [c])
        self.add(p + ".bias", [c])

    def conv(self, p, cout, cin, k=3):
        self.add(p + ".weight", [cout, cin, k, k])
        self.add(p + ".bias", [cout])

    def lin(self, p, cout, cin, bias=True):
        self.add(p + ".weight", [cout, cin])
        if bias:
            self.add(p + ".bias", [cout])


def unet_layout(L, p, cfg):
    C, mult, nres, depth = cfg["C"], cfg["mult"], cfg["nres"], cfg["depth"]
    T = 4 * C
    ctx, linear = cfg["ctx"], cfg["linear"]

    def res(q, cin, cout):
        L.norm(q + ".in_layers.0", cin)
        L.conv(q + ".in_layers.2", cout, cin)
        L.lin(q + ".emb_layers.1", cout, T)
        L.norm(q + ".out_layers.0", cout)
        L.conv(q + ".out_layers.3", cout, cout)
        if cin != cout:
            L.conv(q + ".skip_connection", cout, cin, 1)

    def st(q, c, d):
        L.norm(q + ".norm", c)
        if linear:
            L.lin(q + ".proj_in", c, c)
        else:
            L.conv(q + ".proj_in", c, c, 1)
        for i in range(d):
            b = f"{q}.transformer_blocks.{i}"
            for a, kv in (("attn1", c), ("attn2", ctx)):
                L.lin(f"{b}.{a}.to_q", c, c, bias=False)
                L.lin(f"{b}.{a}.to_k", c, kv, bias=False)
                L.lin(f"{b}.{a}.to_v", c, kv, bias=False)
                L.lin(f"{b}.{a}.to_out.0", c, c)
            L.lin(f"{b}.ff.net.0.proj", 8 * c, c)
            L.lin(f"{b}.ff.net.2", c, 4 * c)
            for n in ("norm1", "norm2", "norm3"):
                L.norm(f"{b}.{n}", c)
        if linear:
            L.lin(q + ".proj_out", c, c)
        else:
            L.conv(q + ".proj_out", c, c, 1)

    L.lin(p + ".time_embed.0", T, C)
    L.lin(p + ".time_embed.2", T, T)
    if cfg.get("adm"):
        L.lin(p + ".label_emb.0.0", T, cfg["adm"])
        L.lin(p + ".label_emb.0.2", T, T)
    L.conv(p + ".input_blocks.0.0", C, 4)
    ch, idx, chans = C, 1, [C]
    for lvl, m in enumerate(mult):
        for _ in range(nres):
            res(f"{p}.input_blocks.{idx}.0", ch, m * C)
            ch = m * C
            if depth[lvl]:
                st(f"{p}.input_blocks.{idx}.1", ch, depth[lvl])
            chans.append(ch)
            idx += 1
        if lvl != len(mult) - 1:
            L.conv(f"{p}.input_blocks.{idx}.0.op", ch, ch)
            chans.append(ch)
            idx += 1
    res(p + ".middle_block.0", ch, ch)
    st(p + ".middle_block.1", ch, depth[-1] or 1)
    res(p + ".middle_block.2", ch, ch)
    idx = 0
    for lvl in reversed(range(len(mult))):
        for i in range(nres + 1):
            skip = chans.pop()
            res(f"{p}.output_blocks.{idx}.0", ch + skip, mult[lvl] * C)
            ch = mult[lvl] * C
            j = 1
            if depth[lvl]:
                st(f"{p}.output_blocks.{idx}.1", ch, depth[lvl])
                j = 2
            if lvl and i == nres:
                L.conv(f"{p}.output_blocks.{idx}.{j}.conv", ch, ch)
            idx += 1
    L.norm(p + ".out.0", ch)
    L.conv(p + ".out.2", 4, ch)


def vae_layout(L, p, C=32, mult=(1, 2), nres=1, z=4):
    def block(q, cin, cout):
        L.norm(q + ".norm1", cin)
        L.conv(q + ".conv1", cout, cin)
        L.norm(q + ".norm2", cout)
        L.conv(q + ".conv2", cout, cout)
        if cin != cout:
            L.conv(q + ".nin_shortcut", cout, cin, 1)

    def mid(q, c):
        block(q + ".block_1", c, c)
        L.norm(q + ".attn_1.norm", c)
        for n in ("q", "k", "v", "proj_out"):
            L.conv(f"{q}.attn_1.{n}", c, c, 1)
        block(q + ".block_2", c, c)

    e = p + "encoder"
    L.conv(e + ".conv_in", C, 3)
    cin = C
    for i, m in enumerate(mult):
        for j in range(nres):
            block(f"{e}.down.{i}.block.{j}", cin, m * C)
            cin = m * C
        if i != len(mult) - 1:
            L.conv(f"{e}.down.{i}.downsample.conv", cin, cin)
    mid(e + ".mid", cin)
    L.norm(e + ".norm_out", cin)
    L.conv(e + ".conv_out", 2 * z, cin)
    d = p + "decoder"
    cin = C * mult[-1]
    L.conv(d + ".conv_in", cin, z)
    mid(d + ".mid", cin)
    for i in reversed(range(len(mult))):
        for j in range(nres + 1):
            block(f"{d}.up.{i}.block.{j}", cin, mult[i] * C)
            cin = mult[i] * C
        if i != 0:
            L.conv(f"{d}.up.{i}.upsample.conv", cin, cin)
    L.norm(d + ".norm_out", cin)
    L.conv(d + ".conv_out", 3, cin)
    L.conv(p + "quant_conv", 2 * z, 2 * z, 1)
    L.conv(p + "post_quant_conv", z, z, 1)


VOCAB = 1000
EOS = VOCAB - 1


def hf_clip_layout(L, p, W, layers, position_ids):
    t = p + ".text_model"
    L.add(t + ".embeddings.token_embedding.weight", [VOCAB, W])
    L.add(t + ".embeddings.position_embedding.weight", [77, W])
    if position_ids:
        L.add(t + ".embeddings.position_ids", [1, 77], "I64")
    for i in range(layers):
        q = f"{t}.encoder.layers.{i}"
        L.norm(q + ".layer_norm1", W)
        L.norm(q + ".layer_norm2", W)
        for n in ("q_proj", "k_proj", "v_proj", "out_proj"):
            L.lin(f"{q}.self_attn.{n}", W, W)
        L.lin(q + ".mlp.fc1", 4 * W, W)
        L.lin(q + ".mlp.fc2", W, 4 * W)
    L.norm(t + ".final_layer_norm", W)


def open_clip_layout(L, p, W, layers, proj):
    L.add(p + ".token_embedding.weight", [VOCAB, W])
    L.add(p + ".positional_embedding", [77, W])
    for i in range(layers):
        q = f"{p}.transformer.resblocks.{i}"
        L.add(q + ".attn.in_proj_weight", [3 * W, W])
        L.add(q + ".attn.in_proj_bias", [3 * W])
        L.lin(q + ".attn.out_proj", W, W)
        L.norm(q + ".ln_1", W)
        L.norm(q + ".ln_2", W)
        L.lin(q + ".mlp.c_fc", 4 * W, W)
        L.lin(q + ".mlp.c_proj", W, 4 * W)
    L.norm(p + ".ln_final", W)
    L.add(p + ".text_projection", [W, proj])
    L.add(p + ".logit_scale", [])


FAMILIES = {
    # SD1.5: conv proj_in/out, 8 heads, CLIP-L (HF names), last level
    # without attention, two residual blocks per level.
    "sd15": dict(
        real="sd15_checkpoint.json",
        dtype="F16",
        unet=dict(C=32, mult=[1, 2, 2], nres=2, depth=[1, 1, 0], ctx=128, linear=False),
        clip_l=128,
    ),
    # SD2.x: linear proj_in/out, head width 64, OpenCLIP-H layout.
    "sd2": dict(
        real="sd21_768_v_checkpoint.json",
        dtype="F32",
        unet=dict(C=64, mult=[1, 2], nres=1, depth=[1, 1], ctx=128, linear=True),
        clip_h=128,
    ),
    # SDXL: no attention on level 0, deeper transformers below, ADM
    # (pooled G projection 128 + 6 x 256), CLIP-L 64 + OpenCLIP-G 128.
    "sdxl": dict(
        real="sdxl_base_checkpoint.json",
        dtype="F16",
        unet=dict(C=32, mult=[1, 2, 4], nres=1, depth=[0, 1, 2], ctx=64 + 128, linear=True, adm=128 + 6 * 256),
        clip_l=64,
        clip_g=128,
    ),
    # SDXL refiner: OpenCLIP-G alone (under conditioner.embedders.0),
    # cross-attention on its width, no attention on the first and last
    # levels, ADM of pooled G projection 128 + 5 x 256 (height, width,
    # crop top, crop left, aesthetic score).
    "sdxl_refiner": dict(
        real="sdxl_refiner_checkpoint.json",
        dtype="F16",
        unet=dict(C=32, mult=[1, 2, 2], nres=1, depth=[0, 1, 0], ctx=128, linear=True, adm=128 + 5 * 256, adm_values=5),
        clip_g=128,
    ),
}


def family_layout(name, f):
    L = Layout(f["dtype"])
    unet_layout(L, "model.diffusion_model", f["unet"])
    vae_layout(L, "first_stage_model.")
    if name == "sd15":
        hf_clip_layout(L, "cond_stage_model.transformer", f["clip_l"], 2, position_ids=False)
    elif name == "sd2":
        open_clip_layout(L, "cond_stage_model.model", f["clip_h"], 2, f["clip_h"])
        L.add("v_pred", [], "F32")
    elif name == "sdxl_refiner":
        open_clip_layout(L, "conditioner.embedders.0.model", f["clip_g"], 2, f["clip_g"])
    else:
        hf_clip_layout(L, "conditioner.embedders.0.transformer", f["clip_l"], 2, position_ids=True)
        open_clip_layout(L, "conditioner.embedders.1.model", f["clip_g"], 2, f["clip_g"])
    return L


def pattern(key):
    return re.sub(r"\.\d+(?=\.|$)", ".N", key)


def check_against_real(name, L, real):
    want = {pattern(json.loads(line)["key"]) for line in open(os.path.join(HEADERS, real))}
    have = {pattern(k) for k, _, _ in L.entries}
    if want != have:
        print(f"{name}: layout differs from {real}")
        print("  only in tiny:", sorted(have - want)[:20])
        print("  only in real:", sorted(want - have)[:20])
        sys.exit(1)


def materialise(L):
    sd = {}
    for k, shape, dt in L.entries:
        if dt == "I64":
            sd[k] = torch.arange(shape[-1], dtype=torch.int64).reshape(shape)
            continue
        v = torch.from_numpy(synth(k, shape).copy())
        if dt == "F16":
            v = v.to(torch.float16)
        sd[k] = v
    return sd


def as_f32(sd):
    return {k: (v.float() if v.is_floating_point() else v) for k, v in sd.items()}


# --------------------------------------------------------------------------
# References.
# --------------------------------------------------------------------------
from diffusers import AutoencoderKL, UNet2DConditionModel  # noqa: E402
from diffusers.loaders.single_file_utils import (  # noqa: E402
    convert_ldm_clip_checkpoint,
    convert_ldm_unet_checkpoint,
    convert_ldm_vae_checkpoint,
    convert_open_clip_checkpoint,
)
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection  # noqa: E402


def strict_load(model, sd, what):
    # transformers 5's CLIPTextModel has no `text_model.` level (the
    # WithProjection variant keeps it): align the converted names.
    own = set(model.state_dict().keys())
    sd = {(k[len("text_model."):] if k.startswith("text_model.") and k not in own else k): v for k, v in sd.items()}
    missing, unexpected = model.load_state_dict(sd, strict=False)
    missing = [m for m in missing if not m.endswith("position_ids")]
    unexpected = [u for u in unexpected if not u.endswith("position_ids")]
    if missing or unexpected:
        print(what, "missing", missing[:10], "unexpected", unexpected[:10])
        sys.exit(1)


def unet_model(cfgd, sd, latent_hw):
    """diffusers' UNet2DConditionModel for a tiny layout, loaded from the
    LDM state dict through diffusers' single-file conversion; f32, eval."""
    C, mult = cfgd["C"], cfgd["mult"]
    heads = [8] * len(mult) if not cfgd["linear"] else [max(1, C * m // 64) for m in mult]
    blocks_down = ["CrossAttnDownBlock2D" if d else "DownBlock2D" for d in cfgd["depth"]]
    blocks_up = ["CrossAttnUpBlock2D" if d else "UpBlock2D" for d in reversed(cfgd["depth"])]
    config = dict(
        sample_size=latent_hw[0],
        in_channels=4,
        out_channels=4,
        down_block_types=blocks_down,
        up_block_types=blocks_up,
        block_out_channels=[C * m for m in mult],
        layers_per_block=cfgd["nres"],
        cross_attention_dim=cfgd["ctx"],
        attention_head_dim=heads,
        use_linear_projection=cfgd["linear"],
        transformer_layers_per_block=[max(d, 1) for d in cfgd["depth"]],
    )
    if cfgd.get("adm"):
        config.update(
            addition_embed_type="text_time",
            addition_time_embed_dim=256,
            projection_class_embeddings_input_dim=cfgd["adm"],
        )
    model = UNet2DConditionModel(**config)
    conv = convert_ldm_unet_checkpoint(as_f32(sd), config)
    strict_load(model, conv, "unet")
    return model.eval()


def unet_reference(cfgd, sd, latent_hw, seed):
    model = unet_model(cfgd, sd, latent_hw)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((2, 4, *latent_hw), generator=g)
    t = torch.tensor([999.0, 17.5])
    ctx = torch.randn((2, 77, cfgd["ctx"]), generator=g)
    extra = {}
    out = {"unet.x": x, "unet.t": t, "unet.context": ctx}
    if cfgd.get("adm"):
        values = cfgd.get("adm_values", 6)
        pooled = torch.randn((2, cfgd["adm"] - values * 256), generator=g)
        h, w = latent_hw[0] * 8, latent_hw[1] * 8
        if values == 6:
            time_ids = torch.tensor([[h, w, 0, 0, h, w], [h, w, 0, 0, h, w]], dtype=torch.float32)
        else:
            # The refiner: the prompt's row with aesthetic score 6, the
            # negative's with 2.5 (ComfyUI's defaults).
            time_ids = torch.tensor([[h, w, 0, 0, 6.0], [h, w, 0, 0, 2.5]], dtype=torch.float32)
        extra = {"added_cond_kwargs": {"text_embeds": pooled, "time_ids": time_ids}}
        out["unet.pooled"] = pooled
    with torch.no_grad():
        out["unet.out"] = model(x, t, encoder_hidden_states=ctx, **extra).sample
    return out


def vae_reference(sd, scale, seed):
    config = dict(
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * 2,
        up_block_types=["UpDecoderBlock2D"] * 2,
        block_out_channels=[32, 64],
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=32,
        scaling_factor=scale,
    )
    model = AutoencoderKL(**config)
    strict_load(model, convert_ldm_vae_checkpoint(as_f32(sd), config), "vae")
    model.eval()
    g = torch.Generator().manual_seed(seed)
    z = torch.randn((1, 4, 6, 10), generator=g)
    img = torch.rand((1, 3, 12, 20), generator=g) * 2 - 1
    with torch.no_grad():
        dec = model.decode(z / scale).sample
        enc = model.encode(img).latent_dist.mean * scale
    return {"vae.z": z, "vae.decoded": dec, "vae.image": img, "vae.encoded": enc}


def tokens_batch(seed):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, EOS, (2, 77), generator=g)
    ids[0, 0] = EOS - 1  # a "start" token
    ids[0, 9] = EOS
    ids[0, 10:] = EOS  # padded with the end token (clip_l style)
    ids[1, 30] = EOS
    ids[1, 31:] = 0  # padded with 0 (clip_g style)
    return ids


def clip_reference(tag, model, ids, ln_hidden):
    with torch.no_grad():
        o = model(input_ids=ids, output_hidden_states=True)
    penult = o.hidden_states[-2]
    if ln_hidden:
        inner = getattr(model, "text_model", model)
        penult = inner.final_layer_norm(penult)
    out = {
        f"{tag}.ids": ids.to(torch.int64),
        f"{tag}.last": o.last_hidden_state,
        f"{tag}.penultimate": penult,
    }
    if hasattr(o, "text_embeds"):
        out[f"{tag}.projected"] = o.text_embeds
    else:
        out[f"{tag}.pooled"] = o.pooler_output
    return out


def hf_clip(sd, W, prefix, act, projection=None):
    cfg = CLIPTextConfig(
        vocab_size=VOCAB,
        hidden_size=W,
        intermediate_size=4 * W,
        num_hidden_layers=2,
        num_attention_heads=W // 64,
        max_position_embeddings=77,
        hidden_act=act,
        eos_token_id=EOS,
        bos_token_id=EOS - 1,
        pad_token_id=EOS,
        projection_dim=projection or W,
    )
    cls = CLIPTextModelWithProjection if projection else CLIPTextModel
    model = cls(cfg).eval()
    return model


def references(name, f, sd):
    out = {}
    if name == "sd15":
        out.update(unet_reference(f["unet"], sd, (8, 12), 1))
        out.update(vae_reference(sd, 0.18215, 2))
        m = hf_clip(sd, f["clip_l"], "cond_stage_model.transformer.", "quick_gelu")
        strict_load(m, convert_ldm_clip_checkpoint(as_f32(sd)), "clip_l")
        out.update(clip_reference("clip_l", m, tokens_batch(3), True))
    elif name == "sd2":
        out.update(unet_reference(f["unet"], sd, (8, 12), 4))
        out.update(vae_reference(sd, 0.18215, 5))
        # SD2.x conditioning never uses the projection (diffusers drops it
        # on conversion): a plain CLIPTextModel, pooled output unprojected.
        m = hf_clip(sd, f["clip_h"], None, "gelu")
        conv = convert_open_clip_checkpoint(m, as_f32(sd), prefix="cond_stage_model.model.")
        strict_load(m, conv, "clip_h")
        out.update(clip_reference("clip_h", m, tokens_batch(6), True))
    elif name == "sdxl_refiner":
        out.update(unet_reference(f["unet"], sd, (8, 12), 11))
        out.update(vae_reference(sd, 0.13025, 12))
        m = hf_clip(sd, f["clip_g"], None, "gelu", projection=f["clip_g"])
        conv = convert_open_clip_checkpoint(m, as_f32(sd), prefix="conditioner.embedders.0.model.")
        strict_load(m, conv, "clip_g")
        out.update(clip_reference("clip_g", m, tokens_batch(13), False))
    else:
        out.update(unet_reference(f["unet"], sd, (8, 12), 7))
        out.update(vae_reference(sd, 0.13025, 8))
        m = hf_clip(sd, f["clip_l"], None, "quick_gelu")
        strict_load(m, convert_ldm_clip_checkpoint(as_f32(sd)), "clip_l")
        out.update(clip_reference("clip_l", m, tokens_batch(9), False))
        m = hf_clip(sd, f["clip_g"], None, "gelu", projection=f["clip_g"])
        conv = convert_open_clip_checkpoint(m, as_f32(sd), prefix="conditioner.embedders.1.model.")
        strict_load(m, conv, "clip_g")
        out.update(clip_reference("clip_g", m, tokens_batch(10), False))
    return out


TOKENIZER_PROMPTS = [
    "a red fox",
    "Hi there",
    "A photograph of an astronaut riding a horse, 4k, highly detailed!!!",
    "masterpiece, best quality, (red hair:1.2), 1girl, looking at viewer",
    "don't stop; it's 3.14159 o'clock -- isn't it?",
    "hello   world\twith\nwhitespace",
    "UPPER lower MiXeD",
    "café naïve résumé",
    "emoji 🦊 and 日本語",
    "self-portrait, f/1.8, 85mm",
]


def tokenizer_reference():
    from open_clip.tokenizer import SimpleTokenizer

    tok = SimpleTokenizer()
    return [{"text": t, "ids": tok.encode(t)} for t in TOKENIZER_PROMPTS]


def main():
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    os.makedirs(OUT, exist_ok=True)
    for name, f in FAMILIES.items():
        L = family_layout(name, f)
        check_against_real(name, L, f["real"])
        with open(os.path.join(OUT, f"{name}.header.jsonl"), "w") as fh:
            for k, shape, dt in L.entries:
                fh.write(json.dumps({"key": k, "shape": shape, "dtype": dt}) + "\n")
        sd = materialise(L)
        refs = references(name, f, sd)
        refs = {k: v.float().contiguous() if v.is_floating_point() else v.contiguous() for k, v in refs.items()}
        save_file(refs, os.path.join(OUT, f"{name}.reference.safetensors"))
        print(name, len(L.entries), "tensors;", ", ".join(f"{k}{list(v.shape)}" for k, v in refs.items()))
    with open(os.path.join(OUT, "tokenizer.json"), "w") as fh:
        json.dump(tokenizer_reference(), fh, indent=1, ensure_ascii=False)


if __name__ == "__main__":
    main()
