#!/usr/bin/env python3
"""Writes the reference fixtures that src/engine/{noise,brownian,schedule,sampler}.rs
test against (tests/data/reference/*.json). Python is needed only to
regenerate them; `cargo test` reads the committed JSON.

How to run (CPU only; any x86-64 machine with AVX2, which is where torch's
randn kernel is the one src/engine/noise.rs replays by default):

    python3 -m venv /tmp/refenv
    /tmp/refenv/bin/pip install torch==2.15.0 torchsde==0.2.6 scipy==1.17.1 \
        k-diffusion==0.1.1.post1 numpy==1.26.4 "setuptools<81"
    /tmp/refenv/bin/python tests/reference/make_sampler_fixtures.py

(`setuptools<81` because k-diffusion's `clip` dependency still imports
pkg_resources.) The versions above are the ones the committed files were made
with; the script records them in each file.

Where the numbers come from:
- torch.randn: torch itself (torch.manual_seed + torch.randn on the CPU).
- Brownian noise: torchsde.BrownianTree itself, driven by a transcription of
  ComfyUI's BatchedBrownianTree / BrownianTreeNoiseSampler.
- ComfyUI-only code (ModelSamplingDiscrete with EPS / V_PREDICTION, the
  normal / simple / sgm_uniform / ddim_uniform / beta schedulers,
  KSampler.calculate_sigmas, default_noise_sampler, and ComfyUI's versions of
  the samplers, several of which differ in floating point from k-diffusion's)
  is a faithful transcription of comfy/model_sampling.py, comfy/samplers.py
  and comfy/k_diffusion/sampling.py (Comfy-Org/ComfyUI, 2025), marked
  "ComfyUI transcription" below, using the same torch operations so the
  results equal ComfyUI's on the CPU.
- k-diffusion from PyPI cross-checks the transcription wherever its function
  is the same as ComfyUI's (karras, exponential, euler, euler_ancestral, heun,
  dpm_2, dpmpp_2m: asserted bit-identical; dpmpp_sde, dpmpp_2m_sde: the same
  maths written differently, asserted close).
"""

import importlib.metadata as md
import json
import math
import os
from functools import partial

import numpy
import scipy.stats
import torch
import torchsde
import k_diffusion.sampling as kd

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "reference")
VERSIONS = {p: md.version(p) for p in ("torch", "torchsde", "k-diffusion", "numpy", "scipy")}
torch.set_num_threads(1)


def f32_list(t):
    return [float(v) for v in t.detach().to(torch.float32).flatten().tolist()]


def write(name, payload):
    payload = {"generated_by": "tests/reference/make_sampler_fixtures.py", "versions": VERSIONS, **payload}
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        json.dump(payload, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


# ----------------------------------------------------------------- torch.randn

def randn_fixture():
    entries = []
    shapes = [[1], [2], [3], [5], [15], [16], [17], [31], [33], [100], [1, 4, 8, 8], [2, 4, 5, 7]]
    for seed in [0, 1, 42, 2**32 + 7, 123456789, 2**63 + 5]:
        for shape in shapes:
            if math.prod(shape) > 100 and seed not in (0, 42):
                continue
            g = torch.manual_seed(seed)
            entries.append({"seed": seed, "shape": shape, "values": f32_list(torch.randn(shape, generator=g))})
    # One generator, several draws: the scalar path's cached second normal and
    # the block path's redrawn tail both carry state into the next draw.
    sequences = []
    for seed, draws in [(5, [5, 3, 64, 7, 20, 1]), (77, [17, 1, 1, 40])]:
        g = torch.Generator().manual_seed(seed)
        values = []
        for n in draws:
            values += f32_list(torch.randn([n], generator=g))
        sequences.append({"seed": seed, "draws": draws, "values": values})
    write("torch_randn.json", {
        "how": "torch.randn(shape, generator=torch.manual_seed(seed)) on the CPU, float32",
        "entries": entries,
        "sequences": sequences,
    })


# ------------------------------------- ComfyUI transcription: model sampling

def make_beta_schedule_linear(n_timestep, linear_start, linear_end):
    # comfy/ldm/modules/diffusionmodules/util.py, schedule == "linear"
    return torch.linspace(linear_start ** 0.5, linear_end ** 0.5, n_timestep, dtype=torch.float64) ** 2


def rescale_zero_terminal_snr_sigmas(sigmas):
    # comfy/model_sampling.py
    alphas_cumprod = 1 / ((sigmas * sigmas) + 1)
    alphas_bar_sqrt = alphas_cumprod.sqrt()
    alphas_bar_sqrt_0 = alphas_bar_sqrt[0].clone()
    alphas_bar_sqrt_T = alphas_bar_sqrt[-1].clone()
    alphas_bar_sqrt -= (alphas_bar_sqrt_T)
    alphas_bar_sqrt *= alphas_bar_sqrt_0 / (alphas_bar_sqrt_0 - alphas_bar_sqrt_T)
    alphas_bar = alphas_bar_sqrt**2
    alphas_bar[-1] = 4.8973451890853435e-08
    return ((1 - alphas_bar) / alphas_bar) ** 0.5


def reshape_sigma(sigma, noise_dim):
    if sigma.nelement() == 1:
        return sigma.view(())
    return sigma.view(sigma.shape[:1] + (1,) * (noise_dim - 1))


class ModelSamplingDiscrete:
    """comfy/model_sampling.py ModelSamplingDiscrete combined with EPS or
    V_PREDICTION (ComfyUI builds the same with `class ModelSampling(s, c)`)."""

    def __init__(self, prediction="eps", linear_start=0.00085, linear_end=0.012, timesteps=1000, zsnr=False):
        self.prediction = prediction
        self.sigma_data = 1.0
        betas = make_beta_schedule_linear(timesteps, linear_start, linear_end)
        alphas = 1. - betas
        alphas_cumprod = torch.cumprod(alphas, dim=0)
        sigmas = ((1 - alphas_cumprod) / alphas_cumprod) ** 0.5
        if zsnr:
            sigmas = rescale_zero_terminal_snr_sigmas(sigmas)
        self.sigmas = sigmas.float()
        self.log_sigmas = sigmas.log().float()

    @property
    def sigma_min(self):
        return self.sigmas[0]

    @property
    def sigma_max(self):
        return self.sigmas[-1]

    def timestep(self, sigma):
        log_sigma = sigma.log()
        dists = log_sigma.to(self.log_sigmas.device) - self.log_sigmas[:, None]
        return dists.abs().argmin(dim=0).view(sigma.shape).to(sigma.device)

    def sigma(self, timestep):
        t = torch.clamp(timestep.float().to(self.log_sigmas.device), min=0, max=(len(self.sigmas) - 1))
        low_idx = t.floor().long()
        high_idx = t.ceil().long()
        w = t.frac()
        log_sigma = (1 - w) * self.log_sigmas[low_idx] + w * self.log_sigmas[high_idx]
        return log_sigma.exp().to(timestep.device)

    # EPS
    def calculate_input(self, sigma, noise):
        sigma = reshape_sigma(sigma, noise.ndim)
        return noise / (sigma ** 2 + self.sigma_data ** 2) ** 0.5

    def calculate_denoised(self, sigma, model_output, model_input):
        sigma = reshape_sigma(sigma, model_output.ndim)
        if self.prediction == "eps":
            return model_input - model_output * sigma
        # V_PREDICTION
        return model_input * self.sigma_data ** 2 / (sigma ** 2 + self.sigma_data ** 2) \
            - model_output * sigma * self.sigma_data / (sigma ** 2 + self.sigma_data ** 2) ** 0.5

    def noise_scaling(self, sigma, noise, latent_image, max_denoise=False):
        sigma = reshape_sigma(sigma, noise.ndim)
        if max_denoise:
            noise = noise * torch.sqrt(1.0 + sigma ** 2.0)
        else:
            noise = noise * sigma
        noise += latent_image
        return noise


# ----------------------------------------- ComfyUI transcription: schedulers

def simple_scheduler(model_sampling, steps):
    s = model_sampling
    sigs = []
    ss = len(s.sigmas) / steps
    for x in range(steps):
        sigs += [float(s.sigmas[-(1 + int(x * ss))])]
    sigs += [0.0]
    return torch.FloatTensor(sigs)


def ddim_scheduler(model_sampling, steps):
    s = model_sampling
    sigs = []
    x = 1
    if math.isclose(float(s.sigmas[x]), 0, abs_tol=0.00001):
        steps += 1
        sigs = []
    else:
        sigs = [0.0]
    ss = max(len(s.sigmas) // steps, 1)
    while x < len(s.sigmas):
        sigs += [float(s.sigmas[x])]
        x += ss
    sigs = sigs[::-1]
    return torch.FloatTensor(sigs)


def normal_scheduler(model_sampling, steps, sgm=False, floor=False):
    s = model_sampling
    start = s.timestep(s.sigma_max)
    end = s.timestep(s.sigma_min)
    append_zero = True
    if sgm:
        timesteps = torch.linspace(start, end, steps + 1)[:-1]
    else:
        if math.isclose(float(s.sigma(end)), 0, abs_tol=0.00001):
            steps += 1
            append_zero = False
        timesteps = torch.linspace(start, end, steps)
    sigs = []
    for x in range(len(timesteps)):
        ts = timesteps[x]
        sigs.append(float(s.sigma(ts)))
    if append_zero:
        sigs += [0.0]
    return torch.FloatTensor(sigs)


def beta_scheduler(model_sampling, steps, alpha=0.6, beta=0.6):
    total_timesteps = (len(model_sampling.sigmas) - 1)
    ts = 1 - numpy.linspace(0, 1, steps, endpoint=False)
    ts = numpy.rint(scipy.stats.beta.ppf(ts, alpha, beta) * total_timesteps)
    sigs = []
    last_t = -1
    for t in ts:
        if t != last_t:
            sigs += [float(model_sampling.sigmas[int(t)])]
        last_t = t
    sigs += [0.0]
    return torch.FloatTensor(sigs)


def append_zero(x):
    return torch.cat([x, x.new_zeros([1])])


def get_sigmas_karras(n, sigma_min, sigma_max, rho=7., device='cpu'):
    ramp = torch.linspace(0, 1, n, device=device)
    min_inv_rho = sigma_min ** (1 / rho)
    max_inv_rho = sigma_max ** (1 / rho)
    sigmas = (max_inv_rho + ramp * (min_inv_rho - max_inv_rho)) ** rho
    return append_zero(sigmas).to(device)


def get_sigmas_exponential(n, sigma_min, sigma_max, device='cpu'):
    sigmas = torch.linspace(math.log(sigma_max), math.log(sigma_min), n, device=device).exp()
    return append_zero(sigmas)


SCHEDULERS = {
    "simple": simple_scheduler,
    "sgm_uniform": partial(normal_scheduler, sgm=True),
    "karras": lambda ms, n: get_sigmas_karras(n, float(ms.sigma_min), float(ms.sigma_max)),
    "exponential": lambda ms, n: get_sigmas_exponential(n, float(ms.sigma_min), float(ms.sigma_max)),
    "ddim_uniform": ddim_scheduler,
    "beta": beta_scheduler,
    "normal": normal_scheduler,
}
DISCARD_PENULTIMATE_SIGMA_SAMPLERS = {"dpm_2"}


def calculate_sigmas(ms, scheduler, sampler, steps):
    """KSampler.calculate_sigmas."""
    discard = sampler in DISCARD_PENULTIMATE_SIGMA_SAMPLERS
    sigmas = SCHEDULERS[scheduler](ms, steps + 1 if discard else steps)
    if discard:
        sigmas = torch.cat([sigmas[:-2], sigmas[-1:]])
    return sigmas


def schedule_fixture():
    for name, ref in [("karras", kd.get_sigmas_karras), ("exponential", kd.get_sigmas_exponential)]:
        ms = ModelSamplingDiscrete()
        for n in (1, 3, 10, 30):
            ours = SCHEDULERS[name](ms, n)
            theirs = ref(n, float(ms.sigma_min), float(ms.sigma_max))
            assert torch.equal(ours, theirs), name
    tables = []
    for prediction, zsnr in [("eps", False), ("eps", True)]:
        ms = ModelSamplingDiscrete(prediction, zsnr=zsnr)
        idx = [0, 1, 2, 10, 100, 250, 500, 750, 998, 999]
        probe_sigmas = torch.tensor([0.02, 0.0292, 0.05, 0.3, 1.0, 2.5, 7.77, 14.6, 20.0, 100.0, 500.0])
        probe_ts = torch.tensor([0.0, 0.25, 1.0, 10.5, 123.456, 500.0, 998.9, 999.0, 1200.0])
        tables.append({
            "zsnr": zsnr,
            "indices": idx,
            "sigmas": f32_list(ms.sigmas[idx]),
            "log_sigmas": f32_list(ms.log_sigmas[idx]),
            "timestep_of": {"sigma": f32_list(probe_sigmas), "timestep": [int(v) for v in ms.timestep(probe_sigmas)]},
            "sigma_of": {"timestep": f32_list(probe_ts), "sigma": f32_list(ms.sigma(probe_ts))},
        })
    ms = ModelSamplingDiscrete()
    schedules = []
    for scheduler in SCHEDULERS:
        for steps in (1, 2, 4, 6, 10, 25, 40):
            schedules.append({"scheduler": scheduler, "sampler": "euler", "steps": steps,
                              "sigmas": f32_list(calculate_sigmas(ms, scheduler, "euler", steps))})
    for scheduler in ("normal", "karras"):
        schedules.append({"scheduler": scheduler, "sampler": "dpm_2", "steps": 8,
                          "sigmas": f32_list(calculate_sigmas(ms, scheduler, "dpm_2", 8))})
    write("schedules.json", {
        "model_sampling": "ModelSamplingDiscrete: linear betas 0.00085..0.012 (sqrt-spaced), 1000 steps",
        "tables": tables,
        "schedules": schedules,
    })


# ------------------------------------ ComfyUI transcription: noise samplers

def default_noise_sampler(x, seed=None):
    if seed is not None:
        if x.device == torch.device("cpu"):
            seed += 1
        generator = torch.Generator(device=x.device)
        generator.manual_seed(seed)
    else:
        generator = None
    return lambda sigma, sigma_next: torch.randn(x.size(), dtype=x.dtype, layout=x.layout, device=x.device, generator=generator)


class BatchedBrownianTree:
    def __init__(self, x, t0, t1, seed=None, **kwargs):
        self.cpu_tree = kwargs.pop("cpu", True)
        t0, t1, self.sign = self.sort(t0, t1)
        w0 = kwargs.pop('w0', None)
        if w0 is None:
            w0 = torch.zeros_like(x)
        self.batched = False
        seed = (seed,)
        if self.cpu_tree:
            t0, w0, t1 = t0.detach().cpu(), w0.detach().cpu(), t1.detach().cpu()
        self.trees = tuple(torchsde.BrownianTree(t0, w0, t1, entropy=s, **kwargs) for s in seed)

    @staticmethod
    def sort(a, b):
        return (a, b, 1) if a < b else (b, a, -1)

    def __call__(self, t0, t1):
        t0, t1, sign = self.sort(t0, t1)
        device, dtype = t0.device, t0.dtype
        if self.cpu_tree:
            t0, t1 = t0.detach().cpu().float(), t1.detach().cpu().float()
        w = torch.stack([tree(t0, t1) for tree in self.trees]).to(device=device, dtype=dtype) * (self.sign * sign)
        return w if self.batched else w[0]


class BrownianTreeNoiseSampler:
    def __init__(self, x, sigma_min, sigma_max, seed=None, transform=lambda x: x, cpu=False):
        self.transform = transform
        t0, t1 = self.transform(torch.as_tensor(sigma_min)), self.transform(torch.as_tensor(sigma_max))
        self.tree = BatchedBrownianTree(x, t0, t1, seed, cpu=cpu)

    def __call__(self, sigma, sigma_next):
        t0, t1 = self.transform(torch.as_tensor(sigma)), self.transform(torch.as_tensor(sigma_next))
        return self.tree(t0, t1) / (t1 - t0).abs().sqrt()


def brownian_fixture():
    cases = []
    ms = ModelSamplingDiscrete()
    for seed, scheduler, steps, shape in [(42, "karras", 6, [1, 4, 4, 4]), (7, "normal", 5, [1, 2, 3, 3]),
                                          (2**40 + 3, "exponential", 4, [2, 4, 2, 2])]:
        sigmas = calculate_sigmas(ms, scheduler, "dpmpp_2m_sde", steps)
        x = torch.zeros(shape)
        sigma_min, sigma_max = sigmas[sigmas > 0].min(), sigmas.max()
        ns = BrownianTreeNoiseSampler(x, sigma_min, sigma_max, seed=seed, cpu=True)
        queries, values = [], []
        for i in range(len(sigmas) - 2):
            # the steps a sampler takes, plus an off-grid midpoint as dpmpp_sde queries
            mid = (sigmas[i] * sigmas[i + 1]).sqrt()
            for a, b in [(sigmas[i], mid), (sigmas[i], sigmas[i + 1])]:
                queries.append([float(a), float(b)])
                values.append(f32_list(ns(a, b)))
        cases.append({"seed": seed, "shape": shape, "sigma_min": float(sigma_min), "sigma_max": float(sigma_max),
                      "queries": queries, "values": values})
    write("brownian.json", {
        "how": "ComfyUI BrownianTreeNoiseSampler(x, sigma_min, sigma_max, seed, cpu=True) over torchsde.BrownianTree",
        "cases": cases,
    })


# ------------------------------------------ ComfyUI transcription: samplers

def to_d(x, sigma, denoised):
    return (x - denoised) / kd.utils.append_dims(sigma, x.ndim)


def get_ancestral_step(sigma_from, sigma_to, eta=1.):
    if not eta:
        return sigma_to, 0.
    sigma_up = min(sigma_to, eta * (sigma_to ** 2 * (sigma_from ** 2 - sigma_to ** 2) / sigma_from ** 2) ** 0.5)
    sigma_down = (sigma_to ** 2 - sigma_up ** 2) ** 0.5
    return sigma_down, sigma_up


def sample_euler(model, x, sigmas, ms, seed):
    s_in = x.new_ones([x.shape[0]])
    for i in range(len(sigmas) - 1):
        sigma_hat = sigmas[i]
        denoised = model(x, sigma_hat * s_in)
        d = to_d(x, sigma_hat, denoised)
        dt = sigmas[i + 1] - sigma_hat
        x = x + d * dt
    return x


def sample_euler_ancestral(model, x, sigmas, ms, seed, eta=1., s_noise=1.):
    noise_sampler = default_noise_sampler(x, seed=seed)
    s_in = x.new_ones([x.shape[0]])
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * s_in)
        sigma_down, sigma_up = get_ancestral_step(sigmas[i], sigmas[i + 1], eta=eta)
        if sigma_down == 0:
            x = denoised
        else:
            d = to_d(x, sigmas[i], denoised)
            dt = sigma_down - sigmas[i]
            x = x + d * dt + noise_sampler(sigmas[i], sigmas[i + 1]) * s_noise * sigma_up
    return x


def sample_heun(model, x, sigmas, ms, seed):
    s_in = x.new_ones([x.shape[0]])
    for i in range(len(sigmas) - 1):
        sigma_hat = sigmas[i] * (0 + 1)
        denoised = model(x, sigma_hat * s_in)
        d = to_d(x, sigma_hat, denoised)
        dt = sigmas[i + 1] - sigma_hat
        if sigmas[i + 1] == 0:
            x = x + d * dt
        else:
            x_2 = x + d * dt
            denoised_2 = model(x_2, sigmas[i + 1] * s_in)
            d_2 = to_d(x_2, sigmas[i + 1], denoised_2)
            d_prime = (d + d_2) / 2
            x = x + d_prime * dt
    return x


def sample_dpm_2(model, x, sigmas, ms, seed):
    s_in = x.new_ones([x.shape[0]])
    for i in range(len(sigmas) - 1):
        sigma_hat = sigmas[i]
        denoised = model(x, sigma_hat * s_in)
        d = to_d(x, sigma_hat, denoised)
        if sigmas[i + 1] == 0:
            dt = sigmas[i + 1] - sigma_hat
            x = x + d * dt
        else:
            sigma_mid = sigma_hat.log().lerp(sigmas[i + 1].log(), 0.5).exp()
            dt_1 = sigma_mid - sigma_hat
            dt_2 = sigmas[i + 1] - sigma_hat
            x_2 = x + d * dt_1
            denoised_2 = model(x_2, sigma_mid * s_in)
            d_2 = to_d(x_2, sigma_mid, denoised_2)
            x = x + d_2 * dt_2
    return x


def sample_dpmpp_2m(model, x, sigmas, ms, seed):
    s_in = x.new_ones([x.shape[0]])
    sigma_fn = lambda t: t.neg().exp()
    t_fn = lambda sigma: sigma.log().neg()
    old_denoised = None
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * s_in)
        t, t_next = t_fn(sigmas[i]), t_fn(sigmas[i + 1])
        h = t_next - t
        if old_denoised is None or sigmas[i + 1] == 0:
            x = (sigma_fn(t_next) / sigma_fn(t)) * x - (-h).expm1() * denoised
        else:
            h_last = t - t_fn(sigmas[i - 1])
            r = h_last / h
            denoised_d = (1 + 1 / (2 * r)) * denoised - (1 / (2 * r)) * old_denoised
            x = (sigma_fn(t_next) / sigma_fn(t)) * x - (-h).expm1() * denoised_d
        old_denoised = denoised
    return x


def sigma_to_half_log_snr(sigma, model_sampling):
    return sigma.log().neg()  # not CONST


def half_log_snr_to_sigma(half_log_snr, model_sampling):
    return half_log_snr.neg().exp()  # not CONST


def sample_dpmpp_sde(model, x, sigmas, ms, seed, eta=1., s_noise=1., noise_sampler=None, r=1 / 2):
    if len(sigmas) <= 1:
        return x
    sigma_min, sigma_max = sigmas[sigmas > 0].min(), sigmas.max()
    if noise_sampler is None:
        noise_sampler = BrownianTreeNoiseSampler(x, sigma_min, sigma_max, seed=seed, cpu=True)
    s_in = x.new_ones([x.shape[0]])
    sigma_fn = partial(half_log_snr_to_sigma, model_sampling=ms)
    lambda_fn = partial(sigma_to_half_log_snr, model_sampling=ms)
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * s_in)
        if sigmas[i + 1] == 0:
            x = denoised
        else:
            lambda_s, lambda_t = lambda_fn(sigmas[i]), lambda_fn(sigmas[i + 1])
            h = lambda_t - lambda_s
            lambda_s_1 = lambda_s + r * h
            fac = 1 / (2 * r)
            sigma_s_1 = sigma_fn(lambda_s_1)
            alpha_s = sigmas[i] * lambda_s.exp()
            alpha_s_1 = sigma_s_1 * lambda_s_1.exp()
            alpha_t = sigmas[i + 1] * lambda_t.exp()
            sd, su = get_ancestral_step(lambda_s.neg().exp(), lambda_s_1.neg().exp(), eta)
            lambda_s_1_ = sd.log().neg()
            h_ = lambda_s_1_ - lambda_s
            x_2 = (alpha_s_1 / alpha_s) * (-h_).exp() * x - alpha_s_1 * (-h_).expm1() * denoised
            if eta > 0 and s_noise > 0:
                x_2 = x_2 + alpha_s_1 * noise_sampler(sigmas[i], sigma_s_1) * s_noise * su
            denoised_2 = model(x_2, sigma_s_1 * s_in)
            sd, su = get_ancestral_step(lambda_s.neg().exp(), lambda_t.neg().exp(), eta)
            lambda_t_ = sd.log().neg()
            h_ = lambda_t_ - lambda_s
            denoised_d = (1 - fac) * denoised + fac * denoised_2
            x = (alpha_t / alpha_s) * (-h_).exp() * x - alpha_t * (-h_).expm1() * denoised_d
            if eta > 0 and s_noise > 0:
                x = x + alpha_t * noise_sampler(sigmas[i], sigmas[i + 1]) * s_noise * su
    return x


def sample_dpmpp_2m_sde(model, x, sigmas, ms, seed, eta=1., s_noise=1., noise_sampler=None, solver_type='midpoint'):
    if len(sigmas) <= 1:
        return x
    sigma_min, sigma_max = sigmas[sigmas > 0].min(), sigmas.max()
    if noise_sampler is None:
        noise_sampler = BrownianTreeNoiseSampler(x, sigma_min, sigma_max, seed=seed, cpu=True)
    s_in = x.new_ones([x.shape[0]])
    lambda_fn = partial(sigma_to_half_log_snr, model_sampling=ms)
    old_denoised = None
    h, h_last = None, None
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * s_in)
        if sigmas[i + 1] == 0:
            x = denoised
        else:
            lambda_s, lambda_t = lambda_fn(sigmas[i]), lambda_fn(sigmas[i + 1])
            h = lambda_t - lambda_s
            h_eta = h * (eta + 1)
            alpha_t = sigmas[i + 1] * lambda_t.exp()
            x = sigmas[i + 1] / sigmas[i] * (-h * eta).exp() * x + alpha_t * (-h_eta).expm1().neg() * denoised
            if old_denoised is not None:
                r = h_last / h
                x = x + 0.5 * alpha_t * (-h_eta).expm1().neg() * (1 / r) * (denoised - old_denoised)
            if eta > 0 and s_noise > 0:
                x = x + noise_sampler(sigmas[i], sigmas[i + 1]) * sigmas[i + 1] * (-2 * h * eta).expm1().neg().sqrt() * s_noise
        old_denoised = denoised
        h_last = h
    return x


def sample_lcm(model, x, sigmas, ms, seed):
    noise_sampler = default_noise_sampler(x, seed=seed)
    s_in = x.new_ones([x.shape[0]])
    n_steps = max(1, len(sigmas) - 1)
    for i in range(n_steps):
        denoised = model(x, sigmas[i] * s_in)
        x = denoised
        if sigmas[i + 1] > 0:
            noise = noise_sampler(sigmas[i], sigmas[i + 1])
            x = ms.noise_scaling(sigmas[i + 1], noise, x)
    return x


SAMPLERS = {
    "euler": sample_euler,
    "euler_ancestral": sample_euler_ancestral,
    "heun": sample_heun,
    "dpm_2": sample_dpm_2,
    "dpmpp_2m": sample_dpmpp_2m,
    "dpmpp_2m_sde": sample_dpmpp_2m_sde,
    "dpmpp_sde": sample_dpmpp_sde,
    "ddim": sample_euler,  # comfy/samplers.py sampler_object: "ddim" is ksampler("euler")
    "lcm": sample_lcm,
}


def dummy_unet(xc, t):
    """The analytic stand-in for a UNet (src/engine/sampler.rs has its twin):
    an eps or v prediction from the scaled input and the timestep."""
    return torch.tanh(xc * 1.3) * 0.8 + (t / 999.0 * 0.05).view(-1, 1, 1, 1)


def make_denoiser(ms):
    """BaseModel._apply_model: scale the input, map sigma to the discrete
    timestep, run the model, turn its prediction into the denoised latent."""
    def denoise(x, sigma):
        xc = ms.calculate_input(sigma, x)
        t = ms.timestep(sigma).float()
        return ms.calculate_denoised(sigma, dummy_unet(xc, t), x)
    return denoise


def initial_x(ms, sigmas, noise):
    """KSAMPLER.sample's noise scaling for an empty latent (Sampler.max_denoise
    decides between sqrt(1 + sigma^2) and sigma)."""
    max_sigma, sigma = float(ms.sigma_max), float(sigmas[0])
    max_denoise = math.isclose(max_sigma, sigma, rel_tol=1e-05) or sigma > max_sigma
    return ms.noise_scaling(sigmas[0], noise, torch.zeros_like(noise), max_denoise)


def run_ksampler(ms, sampler, sigmas, noise, seed):
    """KSAMPLER.sample: noise scaling, the sampler, inverse noise scaling (the
    identity for EPS and V_PREDICTION)."""
    return SAMPLERS[sampler](make_denoiser(ms), initial_x(ms, sigmas, noise), sigmas, ms, seed)


def kdiffusion_run(ms, sampler, sigmas, noise, seed):
    """The same run through k-diffusion's own function (PyPI), for the
    samplers whose ComfyUI version is identical or equal in exact maths."""
    x = initial_x(ms, sigmas, noise)
    model = make_denoiser(ms)
    if sampler == "euler_ancestral":
        return kd.sample_euler_ancestral(model, x, sigmas, disable=True, noise_sampler=default_noise_sampler(x, seed))
    if sampler in ("dpmpp_sde", "dpmpp_2m_sde"):
        sigma_min, sigma_max = sigmas[sigmas > 0].min(), sigmas.max()
        ns = BrownianTreeNoiseSampler(x, sigma_min, sigma_max, seed=seed, cpu=True)
        return getattr(kd, f"sample_{sampler}")(model, x, sigmas, disable=True, noise_sampler=ns)
    return getattr(kd, f"sample_{'euler' if sampler == 'ddim' else sampler}")(model, x, sigmas, disable=True)


def sampler_fixture():
    runs = []
    seed, shape, steps = 42, [1, 4, 4, 4], 6
    plan = [(s, "ddim_uniform" if s == "ddim" else "normal") for s in SAMPLERS]
    plan += [("dpmpp_2m", "karras"), ("dpmpp_2m_sde", "karras"), ("dpmpp_sde", "karras"),
             ("euler_ancestral", "exponential")]
    for prediction in ("eps", "v"):
        ms = ModelSamplingDiscrete(prediction)
        for sampler, scheduler in plan:
            sigmas = calculate_sigmas(ms, scheduler, sampler, steps)
            noise = torch.randn(shape, generator=torch.manual_seed(seed))
            out = run_ksampler(ms, sampler, sigmas, noise, seed)
            if sampler != "lcm":
                ref = kdiffusion_run(ms, sampler, sigmas, noise, seed)
                if sampler in ("dpmpp_sde", "dpmpp_2m_sde"):
                    # Same maths, different float steps; k-diffusion's dpmpp_sde
                    # also queries the Brownian tree at exp(log(sigma)) rather
                    # than sigma, a time a few ulps away, hence its looser bound.
                    tol = 1e-2 if sampler == "dpmpp_sde" else 1e-4
                    assert torch.allclose(out, ref, atol=tol), (sampler, (out - ref).abs().max())
                else:
                    assert torch.equal(out, ref), (sampler, (out - ref).abs().max())
            runs.append({"prediction": prediction, "sampler": sampler, "scheduler": scheduler, "steps": steps,
                         "seed": seed, "shape": shape, "sigmas": f32_list(sigmas), "latent": f32_list(out)})
    write("samplers.json", {
        "how": "ComfyUI KSAMPLER.sample on an empty latent, noise = torch.randn(shape, generator=manual_seed(seed)), "
               "model = BaseModel._apply_model around dummy_unet(xc, t) = tanh(1.3 xc) * 0.8 + 0.05 t / 999",
        "runs": runs,
    })


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    randn_fixture()
    schedule_fixture()
    brownian_fixture()
    sampler_fixture()
