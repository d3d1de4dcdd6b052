//! Building blocks shared by the text encoders, the UNet and the VAE,
//! constructed from named tensors so that a missing or misshapen tensor is
//! reported by its key.

use super::Result;
use super::weights::Weights;
use candle_core::{Module, Tensor};
use candle_nn::{Conv2d, Conv2dConfig, GroupNorm, LayerNorm, Linear};

/// `name.weight` [out, in] and, when present (or required), `name.bias`.
pub fn linear(w: &Weights, name: &str) -> Result<Linear> {
    let w = w.pp(name);
    let weight = w.get("weight")?;
    let bias = if w.contains("bias") {
        Some(w.get("bias")?)
    } else {
        None
    };
    Ok(Linear::new(weight, bias))
}

/// Like [`linear`] but the bias must exist.
pub fn linear_b(w: &Weights, name: &str) -> Result<Linear> {
    let w = w.pp(name);
    Ok(Linear::new(w.get("weight")?, Some(w.get("bias")?)))
}

pub fn conv2d(w: &Weights, name: &str, stride: usize, padding: usize) -> Result<Conv2d> {
    let w = w.pp(name);
    let cfg = Conv2dConfig {
        stride,
        padding,
        ..Default::default()
    };
    Ok(Conv2d::new(w.get("weight")?, Some(w.get("bias")?), cfg))
}

pub fn group_norm(w: &Weights, name: &str, groups: usize, eps: f64) -> Result<GroupNorm> {
    let w = w.pp(name);
    let weight = w.get("weight")?;
    let channels = weight.dim(0)?;
    if channels % groups != 0 {
        return Err(super::weights::layout_error(
            &w,
            format!("{} channels do not divide into {groups} groups", channels),
        ));
    }
    Ok(GroupNorm::new(
        weight,
        w.get("bias")?,
        channels,
        groups,
        eps,
    )?)
}

pub fn layer_norm(w: &Weights, name: &str, eps: f64) -> Result<LayerNorm> {
    let w = w.pp(name);
    Ok(LayerNorm::new(w.get("weight")?, w.get("bias")?, eps))
}

/// A projection that is either a linear layer (SD2.x, SDXL) or a 1x1
/// convolution (SD1.5, VAE attention), chosen by the weight's rank.
pub enum Proj {
    Linear(Linear),
    Conv(Conv2d),
}

impl Proj {
    pub fn load(w: &Weights, name: &str) -> Result<Self> {
        let rank = w.pp(name).shape("weight")?.len();
        Ok(if rank == 4 {
            Proj::Conv(conv2d(w, name, 1, 0)?)
        } else {
            Proj::Linear(linear_b(w, name)?)
        })
    }

    pub fn is_linear(&self) -> bool {
        matches!(self, Proj::Linear(_))
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(match self {
            Proj::Linear(l) => l.forward(x)?,
            Proj::Conv(c) => c.forward(x)?,
        })
    }
}

/// Bytes one slice of attention scores may take; larger problems are
/// computed a few (batch, head) pairs at a time ("attention slicing").
/// Heads are independent, so slicing changes memory, not results.
const ATTENTION_SLICE_BYTES: usize = 512 << 20;

/// Scaled dot-product attention over [b, heads, n, d] tensors, with an
/// optional additive mask broadcastable to [n, m].
pub fn attention(q: &Tensor, k: &Tensor, v: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
    attention_sliced(q, k, v, mask, ATTENTION_SLICE_BYTES)
}

fn attention_sliced(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: Option<&Tensor>,
    slice_bytes: usize,
) -> Result<Tensor> {
    let (b, h, n, d) = q.dims4()?;
    let m = k.dim(2)?;
    let scale = 1.0 / (d as f64).sqrt();
    let q = (q * scale)?.reshape((b * h, n, d))?;
    let k = k.reshape((b * h, m, d))?.t()?.contiguous()?;
    let v = v.reshape((b * h, m, v.dim(3)?))?.contiguous()?;
    let per = n * m * q.dtype().size_in_bytes();
    let step = (slice_bytes / per.max(1)).clamp(1, b * h);
    let mut outs = Vec::with_capacity((b * h).div_ceil(step));
    for start in (0..b * h).step_by(step) {
        let len = step.min(b * h - start);
        let mut att = q.narrow(0, start, len)?.matmul(&k.narrow(0, start, len)?)?;
        if let Some(mask) = mask {
            att = att.broadcast_add(mask)?;
        }
        let att = softmax_last_dim(att)?;
        outs.push(att.matmul(&v.narrow(0, start, len)?)?);
    }
    let out = if outs.len() == 1 {
        outs.remove(0)
    } else {
        Tensor::cat(&outs, 0)?
    };
    Ok(out.reshape((b, h, n, ()))?)
}

/// Softmax over the last dimension. In optimised builds, on the CPU in
/// f32 (attention scores, the largest tensors of a UNet step), it runs in
/// place with a vectorisable exp (Cephes' `expf`: range reduction by ln 2
/// and a degree-6 polynomial, relative error about 1e-7, the same order
/// as the SLEEF exp PyTorch uses): in a 512x512 SD1.5 step that is 5
/// softmaxes over 8 x 4096 x 4096 scores. Unoptimised builds (where this
/// crate's loops are not vectorised, about 10x slower than candle's) and
/// other devices or dtypes use candle's softmax.
pub fn softmax_last_dim(x: Tensor) -> Result<Tensor> {
    if FAST_SOFTMAX
        && x.device().is_cpu()
        && x.dtype() == candle_core::DType::F32
        && x.is_contiguous()
    {
        x.inplace_op1(&SoftmaxInPlace)?;
        Ok(x)
    } else {
        Ok(candle_nn::ops::softmax_last_dim(&x)?)
    }
}

const FAST_SOFTMAX: bool = !cfg!(debug_assertions);

struct SoftmaxInPlace;

impl candle_core::InplaceOp1 for SoftmaxInPlace {
    fn name(&self) -> &'static str {
        "softmax-last-dim-inplace"
    }

    fn cpu_fwd(
        &self,
        storage: &mut candle_core::CpuStorage,
        layout: &candle_core::Layout,
    ) -> candle_core::Result<()> {
        use rayon::prelude::*;
        let candle_core::CpuStorage::F32(data) = storage else {
            candle_core::bail!("softmax-last-dim-inplace expects f32");
        };
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("softmax-last-dim-inplace expects a contiguous tensor");
        };
        let n = layout.dims().last().copied().unwrap_or(1).max(1);
        data[start..end].par_chunks_mut(n).for_each(softmax_row);
        Ok(())
    }
}

const LANES: usize = 16;

fn softmax_row(row: &mut [f32]) {
    let max = row.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
    // Sums in LANES independent accumulators so the loop vectorises.
    let mut acc = [0f32; LANES];
    let mut chunks = row.chunks_exact_mut(LANES);
    for c in &mut chunks {
        for (a, x) in acc.iter_mut().zip(c.iter_mut()) {
            *x = fast_exp(*x - max);
            *a += *x;
        }
    }
    let mut sum: f32 = acc.iter().sum();
    for x in chunks.into_remainder() {
        *x = fast_exp(*x - max);
        sum += *x;
    }
    let inv = 1.0 / sum;
    for x in row.iter_mut() {
        *x *= inv;
    }
}

/// Cephes `expf`, branch-free so it vectorises; 0 below -87.3 (where f32
/// underflows), which also maps a masked `-inf` score to exactly 0.
#[inline(always)]
fn fast_exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    const LO: f32 = -87.336_55;
    const HI: f32 = 88.376_26;
    let xc = x.clamp(LO, HI);
    let n = (xc * LOG2E + 0.5).floor();
    let r = xc - n * LN2_HI - n * LN2_LO;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 0.5;
    let y = p * r * r + r + 1.0;
    let scale = f32::from_bits((((n as i32) + 127) as u32) << 23);
    if x < LO { 0.0 } else { y * scale }
}

/// [b, n, heads*d] -> [b, heads, n, d]
pub fn split_heads(x: &Tensor, heads: usize) -> Result<Tensor> {
    let (b, n, c) = x.dims3()?;
    Ok(x.reshape((b, n, heads, c / heads))?
        .transpose(1, 2)?
        .contiguous()?)
}

/// [b, heads, n, d] -> [b, n, heads*d]
pub fn merge_heads(x: &Tensor) -> Result<Tensor> {
    let (b, h, n, d) = x.dims4()?;
    Ok(x.transpose(1, 2)?.reshape((b, n, h * d))?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn fast_exp_is_accurate() {
        let mut worst = 0f64;
        let mut x = -87.0f32;
        while x < 88.0 {
            let want = (x as f64).exp();
            let got = fast_exp(x) as f64;
            worst = worst.max(((got - want) / want).abs());
            x += 0.0137;
        }
        // Measured 1.2e-7 (f32 epsilon is 1.19e-7).
        assert!(worst < 3e-7, "relative error {worst}");
        assert_eq!(fast_exp(f32::NEG_INFINITY), 0.0);
        assert_eq!(fast_exp(-100.0), 0.0);
        assert_eq!(fast_exp(0.0), 1.0);
    }

    #[test]
    fn softmax_matches_candle() {
        let dev = Device::Cpu;
        let x = (Tensor::randn(0f32, 4.0, (3, 5, 37), &dev).unwrap())
            .contiguous()
            .unwrap();
        let want = candle_nn::ops::softmax_last_dim(&x).unwrap();
        let got = x.copy().unwrap();
        got.inplace_op1(&SoftmaxInPlace).unwrap();
        let d = (want - got).unwrap().abs().unwrap().max_all().unwrap();
        assert!(d.to_scalar::<f32>().unwrap() < 1e-6);
    }

    #[test]
    fn sliced_attention_equals_whole() {
        let dev = Device::Cpu;
        let q = Tensor::randn(0f32, 1.0, (2, 3, 5, 4), &dev).unwrap();
        let k = Tensor::randn(0f32, 1.0, (2, 3, 7, 4), &dev).unwrap();
        let v = Tensor::randn(0f32, 1.0, (2, 3, 7, 4), &dev).unwrap();
        let whole = attention_sliced(&q, &k, &v, None, usize::MAX).unwrap();
        // One (batch, head) pair per slice.
        let sliced = attention_sliced(&q, &k, &v, None, 1).unwrap();
        assert_eq!(whole.dims(), [2, 3, 5, 4]);
        let d = (whole - sliced).unwrap().abs().unwrap().max_all().unwrap();
        assert_eq!(d.to_scalar::<f32>().unwrap(), 0.0);
    }
}

#[cfg(test)]
mod prof {
    use super::*;
    #[test]
    #[ignore]
    fn prof_attention() {
        let dev = candle_core::Device::Cpu;
        let q = Tensor::randn(0f32, 1.0, (1, 8, 4096, 40), &dev).unwrap();
        let s = Tensor::randn(0f32, 1.0, (8, 4096, 4096), &dev).unwrap();
        let t = |name: &str, f: &dyn Fn()| {
            f();
            let t0 = std::time::Instant::now();
            for _ in 0..3 {
                f();
            }
            eprintln!(
                "{name}: {:.1} ms",
                t0.elapsed().as_secs_f64() * 1000.0 / 3.0
            );
        };
        t("candle softmax", &|| {
            candle_nn::ops::softmax_last_dim(&s).unwrap();
        });
        t("ours softmax (incl copy)", &|| {
            s.copy().unwrap().inplace_op1(&SoftmaxInPlace).unwrap();
        });
        t("copy", &|| {
            s.copy().unwrap();
        });
        t("attention", &|| {
            attention(&q, &q, &q, None).unwrap();
        });
    }
}
