#!/usr/bin/env python3
"""Benchmark: one full-size SD1.5 UNet step at 512x512 (latent 64x64), in
diffusers (PyTorch) and, with the same weights, in gen (candle).

Same packages and pins as make_model_fixtures.py. Run from the repository
root, with the same thread count on both sides:

    python tests/reference/bench_unet.py --threads 2 --out /tmp/gen-bench
    GEN_BENCH_DIR=/tmp/gen-bench RAYON_NUM_THREADS=2 \\
        cargo test --release --lib engine::models::tests::bench_sd15_unet_512 \\
        -- --ignored --nocapture

The first writes the UNet in the real SD1.5 single-file layout (keys and
shapes from the real header; random values from `synth`, stored f16 as
real files are) to OUT/sd15_unet.safetensors, runs diffusers'
UNet2DConditionModel in f32 (loaded through diffusers' own LDM
conversion), and writes the inputs, the output and its timing to
OUT/sd15_unet_reference.safetensors. The second loads the same file with
gen's loader, checks its output against diffusers' and prints both
timings side by side with their ratio.

Add --reuse to time the weights already written (to alternate runs).

On a GPU (a `cuda` or `flash-attn` build of gen), each side the minimum of
20 steps:

    python tests/reference/bench_unet.py --device cuda --dtype f16 --out /tmp/gen-bench
    GEN_BENCH_DIR=/tmp/gen-bench GEN_BENCH_DEVICE=cuda GEN_BENCH_DTYPE=f16 \\
        cargo test --release --features flash-attn --lib \\
        engine::models::tests::bench_sd15_unet_512 -- --ignored --nocapture

(`GEN_BENCH_FLASH=0` times candle's attention kernels instead.)

Measured 2026-11-22 on the 2-core AMD EPYC (AVX-512) dev machine, quiet,
runs alternated (diffusers, gen, diffusers, gen, ...), each side the
minimum of 3 steps, batch 1, f32, release build of gen:
- 2 threads: diffusers 4.56 / 4.94 / 5.14 s, gen 4.35 / 4.60 / 4.32 s;
  ratios gen/diffusers 0.95, 0.93, 0.84 (median 0.93).
- pinned to one core (`taskset -c 0`, 1 thread each): diffusers 8.22 /
  8.41 s, gen 6.87 / 5.99 s; ratios 0.83, 0.71.
Full-size outputs agree to 3.3e-6. What made gen faster than plain candle
(which took about 2x diffusers' time here): gemm's AVX-512 kernels for
candle's matmuls (the `x86-v4` feature; the matrix kernel is half of the
profile, and on stable Rust gemm otherwise stays on AVX2), 3x3
convolutions as one matmul over shifted views instead of candle's im2col,
a vectorised in-place softmax, and attention and convolution buffers kept
under 16 MB so the allocator reuses memory instead of mapping fresh zeroed
pages for every tensor. With gemm's AVX2 kernels (before `x86-v4`) gen
took about 2x diffusers' time on this machine; on a CPU without AVX-512
gemm chooses AVX2 at run time and oneDNN does too; that was not measured.
"""

import argparse
import json
import os
import time

import numpy as np
import torch
from safetensors.torch import save_file

from make_model_fixtures import HEADERS, synth

from diffusers import UNet2DConditionModel
from diffusers.loaders.single_file_utils import convert_ldm_unet_checkpoint

SD15 = dict(
    sample_size=64,
    in_channels=4,
    out_channels=4,
    down_block_types=["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
    up_block_types=["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3,
    block_out_channels=[320, 640, 1280, 1280],
    layers_per_block=2,
    cross_attention_dim=768,
    attention_head_dim=8,
)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="/tmp/gen-bench")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--reuse", action="store_true", help="time the weights already in OUT")
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--dtype", default="f32", choices=["f32", "f16", "bf16"])
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    dtype = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}[args.dtype]
    dev = torch.device(args.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    if args.device == "cpu" and args.dtype != "f32":
        ap.error("the CPU benchmark is f32")
    runs = args.runs if dev.type == "cpu" else max(args.runs, 20)
    # True f32 on the GPU, as gen computes it (cuBLAS without TF32):
    # PyTorch's convolutions would otherwise round to TF32.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "sd15_unet.safetensors")
    if args.reuse and os.path.exists(path):
        from safetensors.torch import load_file

        sd = load_file(path)
    else:
        sd = {}
        for line in open(os.path.join(HEADERS, "sd15_checkpoint.json")):
            e = json.loads(line)
            if e["key"].startswith("model.diffusion_model."):
                sd[e["key"]] = torch.from_numpy(synth(e["key"], e["shape"]).copy()).half()
        save_file(sd, path)
    model = UNet2DConditionModel(**SD15)
    conv = convert_ldm_unet_checkpoint({k: v.float() for k, v in sd.items()}, SD15)
    model.load_state_dict(conv, strict=True)
    del sd, conv
    model.eval()
    model.to(dev, dtype)
    g = torch.Generator().manual_seed(0)
    x = torch.randn((1, 4, 64, 64), generator=g)
    t = torch.tensor([999.0])
    ctx = torch.randn((1, 77, 768), generator=g)
    xd, td, cd = x.to(dev, dtype), t.to(dev), ctx.to(dev, dtype)
    times = []
    with torch.no_grad():
        out = model(xd, td, encoder_hidden_states=cd).sample  # warm-up
        sync()
        for _ in range(runs):
            t0 = time.perf_counter()
            model(xd, td, encoder_hidden_states=cd)
            sync()
            times.append(time.perf_counter() - t0)
    # The minimum: on a shared machine, other work only ever adds time.
    secs = float(np.min(times))
    where = f"{args.threads} threads" if dev.type == "cpu" else torch.cuda.get_device_name(dev)
    print(f"diffusers {torch.__version__}, {args.dtype} on {where}: {secs:.4f} s/step (runs {times})")
    save_file(
        {
            "x": x,
            "t": t,
            "context": ctx,
            "out": out.float().cpu().contiguous(),
            "torch_seconds": torch.tensor([secs]),
            "threads": torch.tensor([float(args.threads)]),
        },
        os.path.join(args.out, "sd15_unet_reference.safetensors"),
    )


if __name__ == "__main__":
    main()
