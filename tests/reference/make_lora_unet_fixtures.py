#!/usr/bin/env python3
"""One UNet evaluation with a kohya LoRA, applied the diffusers/PEFT way.

How to run (from the repository root; CPU only, about a minute):

    python3 -m venv /tmp/fixtures && /tmp/fixtures/bin/pip install \\
        torch==2.15.0 diffusers==0.42.1 transformers==5.23.0 \\
        open_clip_torch==3.3.0 safetensors==0.8.0 numpy==2.4.6 \\
        peft==0.21.2 accelerate==1.15.0
    /tmp/fixtures/bin/python tests/reference/make_lora_unet_fixtures.py

The checkpoints are the tiny SD1.5 and SDXL ones of make_model_fixtures.py
(its committed headers tests/data/reference/models/<family>.header.jsonl in
the real LDM layout, every weight a pure function of its key, ``synth``):
the Rust test rebuilds the same file, so the checkpoint costs no bytes here.

The LoRAs are kohya files as sd-scripts writes them: ``lora_unet_*``
modules with ``lora_down.weight``, ``lora_up.weight`` and a scalar
``alpha``, all F16, rank 4. SD1.5 uses diffusers module names (sd-scripts
trains SD1.x on the diffusers UNet), SDXL the sgm/LDM names (sd-scripts
trains SDXL on its sgm UNet). Modules: every attention q/k/v/out of attn1
and attn2, ff.net.0.proj and ff.net.2 of every transformer block,
proj_in/proj_out (1x1 convolutions in SD1.5, linear in SDXL), and LoCon
modules on convolutions and linears outside the transformers: a 3x3 resnet
conv1, the stride-2 downsampler, a 1x1 skip connection, a resnet
time-embedding projection, an upsampler conv and a resnet conv2. Alphas
differ by kind (attention 2, ff 8, proj 4, LoCon 1), so alpha/rank is
0.5, 2, 1 and 0.25.

The reference application is diffusers' own loading of a kohya file:
``StableDiffusionLoraLoaderMixin.lora_state_dict`` (SD1.5) or
``StableDiffusionXLLoraLoaderMixin.lora_state_dict(unet_config=...)``
(SDXL, sgm block numbers mapped), i.e. the kohya-to-diffusers conversion
that ``pipe.load_lora_weights`` runs, then ``load_lora_into_unet`` (PEFT
``LoraConfig`` from the ranks and alphas, adapters injected into the
diffusers modules) and ``set_adapters(weights=0.8)``. The UNet then runs
unmerged, ``y = W x + 0.8 (alpha/r) B(A x)``, in f32.

Cross-check inside this script: the same LoRA injected by hand as forward
hooks ``y + s (alpha/r) up(down(x))`` (convolutions with the module's stride
and padding) on a fresh diffusers UNet, modules found by matching weight
values (not names) against the converted checkpoint. Both run in f64 and
must agree within 1e-9 (in f32 they differ by rounding), so a module that diffusers' conversion dropped, or an
alpha it lost, stops the script. The LoRA must also move the output by far
more than the Rust test's tolerance (2e-5), and so must leaving out any single
one of its modules (at least 1e-4; measured: SD1.5 2.6e-4, the middle
block's attn2.to_k; SDXL 1.3e-3).

Writes under tests/data/reference/lora/ (about 230 KB in all):
    unet_<family>_kohya.safetensors      the LoRA file (F16)
    unet_<family>.reference.safetensors  inputs x, t, context (and pooled
                                         for SDXL), out (with the LoRA at
                                         0.8) and out_base (without), f32
The tensors are reproducible byte for byte; the order of the LoRA's
metadata entries may change between runs (safetensors keeps them in a hash
map).
"""

import json
import os
import re
import sys

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import make_model_fixtures as mm  # noqa: E402
from diffusers.loaders.lora_pipeline import (  # noqa: E402
    StableDiffusionLoraLoaderMixin,
    StableDiffusionXLLoraLoaderMixin,
)
from diffusers.loaders.single_file_utils import convert_ldm_unet_checkpoint  # noqa: E402

OUT = os.path.join(os.path.dirname(HERE), "data", "reference", "lora")
RANK = 4
STRENGTH = 0.8
UNET = "model.diffusion_model."

# LoCon targets (LDM names under model.diffusion_model., without .weight),
# one of each kind of convolution or linear outside the transformers.
LOCON = {
    "sd15": [
        "input_blocks.1.0.in_layers.2",  # 3x3 conv1
        "input_blocks.3.0.op",  # stride-2 downsampler
        "input_blocks.4.0.skip_connection",  # 1x1
        "middle_block.0.emb_layers.1",  # time_emb_proj, linear
        "output_blocks.2.1.conv",  # upsampler of a level without attention
        "output_blocks.5.0.out_layers.3",  # 3x3 conv2
    ],
    "sdxl": [
        "input_blocks.1.0.in_layers.2",
        "input_blocks.2.0.op",
        "input_blocks.3.0.skip_connection",
        "middle_block.0.emb_layers.1",
        "output_blocks.1.2.conv",  # upsampler after attention
        "output_blocks.4.0.out_layers.3",
    ],
}

TRANSFORMER = re.compile(
    r"\.(transformer_blocks\.\d+\.(attn[12]\.(to_q|to_k|to_v|to_out\.0)|ff\.net\.0\.proj|ff\.net\.2)|proj_in|proj_out)$"
)


def alpha_of(rest):
    if ".attn" in rest:
        return 2.0
    if ".ff." in rest:
        return 8.0
    if rest.endswith(("proj_in", "proj_out")):
        return 4.0
    return 1.0


def targets(family, sd):
    rests = sorted(k[len(UNET) : -len(".weight")] for k in sd if k.startswith(UNET) and k.endswith(".weight"))
    chosen = [r for r in rests if TRANSFORMER.search(r)]
    for r in LOCON[family]:
        assert r in rests, r
        chosen.append(r)
    return chosen


def diffusers_names(sd, config):
    """LDM rest -> diffusers module path, by value: diffusers' conversion
    moves each tensor to its new name, and every synthetic weight is unique."""
    conv = convert_ldm_unet_checkpoint(mm.as_f32(sd), config)
    by_value = {}
    for name, t in conv.items():
        if name.endswith(".weight"):
            by_value.setdefault((tuple(t.shape), t.flatten()[:8].tolist().__repr__()), []).append(name)
    out = {}
    for k, v in sd.items():
        if not (k.startswith(UNET) and k.endswith(".weight")):
            continue
        v = v.float()
        names = by_value.get((tuple(v.shape), v.flatten()[:8].tolist().__repr__()), [])
        names = [n for n in names if torch.equal(conv[n], v)]
        if len(names) == 1:
            out[k[len(UNET) : -len(".weight")]] = names[0][: -len(".weight")]
    return out


def make_lora(family, sd, names, seed):
    """kohya tensors (F16) and, per LDM rest, (down, up, alpha) in f32."""
    g = torch.Generator().manual_seed(seed)
    tensors, factors = {}, {}
    for rest in targets(family, sd):
        w = sd[UNET + rest + ".weight"]
        out_ch, in_ch = w.shape[0], w.shape[1]
        kernel = list(w.shape[2:])
        fan_in = in_ch * (kernel[0] * kernel[1] if kernel else 1)
        down = torch.randn([RANK, in_ch, *kernel], generator=g) / fan_in**0.5
        # up small, as trained LoRAs have it: the adapted UNet stays well
        # conditioned (with up as large as down, f32 rounding alone moves
        # its output by 2e-5).
        up = 0.1 * torch.randn([out_ch, RANK, *([1, 1] if kernel else [])], generator=g)
        down, up = down.half(), up.half()
        alpha = torch.tensor(alpha_of(rest), dtype=torch.float16)
        if family == "sd15":
            module = "lora_unet_" + names[rest].replace(".", "_")
        else:
            module = "lora_unet_" + rest.replace(".", "_")
        tensors[module + ".lora_down.weight"] = down
        tensors[module + ".lora_up.weight"] = up
        tensors[module + ".alpha"] = alpha
        factors[rest] = (down.float(), up.float(), float(alpha))
    return tensors, factors


def inputs(cfgd, latent_hw, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((2, 4, *latent_hw), generator=g)
    t = torch.tensor([999.0, 17.5])
    ctx = torch.randn((2, 77, cfgd["ctx"]), generator=g)
    out = {"unet.x": x, "unet.t": t, "unet.context": ctx}
    extra = {}
    if cfgd.get("adm"):
        pooled = torch.randn((2, cfgd["adm"] - 6 * 256), generator=g)
        h, w = latent_hw[0] * 8, latent_hw[1] * 8
        time_ids = torch.tensor([[h, w, 0, 0, h, w]] * 2, dtype=torch.float32)
        extra = {"added_cond_kwargs": {"text_embeds": pooled, "time_ids": time_ids}}
        out["unet.pooled"] = pooled
    return out, extra


def run(model, ins, extra):
    with torch.no_grad():
        return model(ins["unet.x"], ins["unet.t"], encoder_hidden_states=ins["unet.context"], **extra).sample


def to_f64(tree):
    if isinstance(tree, dict):
        return {k: to_f64(v) for k, v in tree.items()}
    return tree.double()


def by_hand(model, factors, names):
    """Forward hooks y + s (alpha/r) up(down(x)) on the diffusers modules."""
    modules = dict(model.named_modules())
    for rest, (down, up, alpha) in factors.items():
        m = modules[names[rest]]
        k = STRENGTH * alpha / RANK

        def hook(mod, args, y, down=down, up=up, k=k):
            x = args[0]
            if isinstance(mod, torch.nn.Conv2d):
                h = F.conv2d(x, down, stride=mod.stride, padding=mod.padding)
                return y + k * F.conv2d(h, up)
            return y + k * F.linear(F.linear(x, down), up)

        m.register_forward_hook(hook)
    return model


def smallest_single_effect(cfgd, sd, latent_hw, factors, names, ins, extra):
    """The least the output moves when one module of the LoRA is left out
    (by hand, f32): what the Rust test's tolerance must stay under."""
    full = run(by_hand(mm.unet_model(cfgd, sd, latent_hw), factors, names), ins, extra)
    least = (float("inf"), None)
    for rest in factors:
        rest_of = {r: v for r, v in factors.items() if r != rest}
        out = run(by_hand(mm.unet_model(cfgd, sd, latent_hw), rest_of, names), ins, extra)
        least = min(least, ((out - full).abs().max().item(), rest))
    return least


def main():
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    os.makedirs(OUT, exist_ok=True)
    seeds = {"sd15": 21, "sdxl": 31}
    loaders = {"sd15": StableDiffusionLoraLoaderMixin, "sdxl": StableDiffusionXLLoraLoaderMixin}
    for family in ("sd15", "sdxl"):
        f = mm.FAMILIES[family]
        cfgd = f["unet"]
        latent_hw = (8, 12)
        L = mm.family_layout(family, f)
        header = os.path.join(mm.OUT, f"{family}.header.jsonl")
        committed = [json.loads(line) for line in open(header)]
        assert [(e["key"], e["shape"], e["dtype"]) for e in committed] == L.entries, f"{header} is stale"
        sd = mm.materialise(L)

        base = mm.unet_model(cfgd, sd, latent_hw)
        names = diffusers_names(sd, base.config)
        tensors, factors = make_lora(family, sd, names, seeds[family])
        missing = [r for r in factors if r not in names]
        assert not missing, missing
        ins, extra = inputs(cfgd, latent_hw, seeds[family] + 1)
        out_base = run(base, ins, extra)

        # The reference: diffusers' kohya conversion, then PEFT.
        loader = loaders[family]
        kw = {"unet_config": base.config} if family == "sdxl" else {}
        state_dict, alphas = loader.lora_state_dict({k: v.clone() for k, v in tensors.items()}, **kw)
        loader.load_lora_into_unet(state_dict, alphas, base, adapter_name="kohya")
        base.set_adapters(["kohya"], weights=[STRENGTH])
        injected = sum(1 for _, m in base.named_modules() if hasattr(m, "lora_A") and "kohya" in m.lora_A)
        assert injected == len(factors), f"PEFT adapted {injected} modules of {len(factors)}"
        out = run(base, ins, extra)

        # The cross-check by hand, both sides in f64 (in f32 they differ by
        # rounding).
        hand = by_hand(
            mm.unet_model(cfgd, sd, latent_hw).double(),
            {r: (d.double(), u.double(), a) for r, (d, u, a) in factors.items()},
            names,
        )
        ins64, extra64 = to_f64(ins), to_f64(extra)
        agree = (run(base.double(), ins64, extra64) - run(hand, ins64, extra64)).abs().max().item()
        moved = (out - out_base).abs().max().item()
        print(
            f"{family}: {len(factors)} modules; PEFT vs by hand in f64 {agree:.1e}; "
            f"LoRA moves the output by up to {moved:.3f} (output scale {out.abs().max().item():.3f})"
        )
        assert agree < 1e-9, agree
        assert moved > 0.05, moved
        least = smallest_single_effect(cfgd, sd, latent_hw, factors, names, ins, extra)
        print(f"{family}: leaving out any one module moves the output by at least {least[0]:.1e} ({least[1]})")
        assert least[0] > 1e-4, least

        meta = {
            "ss_network_module": "networks.lora",
            "ss_network_dim": str(RANK),
            "ss_base_model_version": "sd_v1" if family == "sd15" else "sdxl_base_v1-0",
        }
        save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(OUT, f"unet_{family}_kohya.safetensors"), meta)
        refs = dict(ins)
        refs["unet.out"] = out
        refs["unet.out_base"] = out_base
        save_file({k: v.float().contiguous() for k, v in refs.items()}, os.path.join(OUT, f"unet_{family}.reference.safetensors"))


if __name__ == "__main__":
    main()
