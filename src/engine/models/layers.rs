//! Building blocks shared by the text encoders, the UNet and the VAE,
//! constructed from named tensors so that a missing or misshapen tensor is
//! reported by its key.

use super::Result;
use super::weights::Weights;
use candle_core::{Module, Tensor};
use candle_nn::{Conv2dConfig, GroupNorm, LayerNorm, Linear};
use std::sync::atomic::{AtomicBool, Ordering};

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
    Conv2d::new(w.get("weight")?, w.get("bias")?, stride, padding)
}

/// Bytes the shifted copies of one band of a 3x3 convolution may take;
/// larger inputs are convolved a band of rows at a time (bounded memory
/// for a VAE's last levels; below the allocator's fresh-mapping size).
const CONV_BAND_BYTES: usize = 16 << 20;

/// A 2-D convolution. The 3x3 stride-1 "same" and the 1x1 convolutions
/// (nearly all of a UNet's and a VAE's) run as one matrix product of the
/// weights, reordered once to [out, kh*kw*in], with the nine shifted views
/// of the padded input stacked on the channel axis: 1.5-2x faster than
/// candle's im2col convolution on the CPU, and the output comes out in
/// NCHW order without a transpose. Other shapes use candle's. The sums
/// run in a different order than PyTorch's, so results differ in the last
/// bits (the reference tests bound it).
#[derive(Clone)]
pub struct Conv2d {
    kind: ConvKind,
    bias: Tensor,
}

#[derive(Clone)]
enum ConvKind {
    /// The file's [out, in, k, k] weight (k = 1 or 3), reordered to
    /// [out, k*k*in] on first use (not at load, so that building a model
    /// from a header alone allocates nothing).
    Shifted {
        raw: Tensor,
        weight: std::sync::OnceLock<Tensor>,
        k: usize,
    },
    Candle(candle_nn::Conv2d),
}

impl Conv2d {
    pub fn new(weight: Tensor, bias: Tensor, stride: usize, padding: usize) -> Result<Self> {
        let (_, _, kh, kw) = weight.dims4()?;
        let kind = match (kh, kw, stride, padding) {
            (3, 3, 1, 1) | (1, 1, 1, 0) => ConvKind::Shifted {
                raw: weight,
                weight: std::sync::OnceLock::new(),
                k: kh,
            },
            _ => ConvKind::Candle(candle_nn::Conv2d::new(
                weight,
                None,
                Conv2dConfig {
                    stride,
                    padding,
                    ..Default::default()
                },
            )),
        };
        Ok(Self { kind, bias })
    }
}

impl Module for Conv2d {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let y = match &self.kind {
            ConvKind::Candle(c) => c.forward(x)?,
            ConvKind::Shifted { raw, weight, k } => {
                let band_bytes = CONV_BAND_BYTES;
                let weight = match weight.get() {
                    Some(w) => w,
                    None => {
                        let (cout, cin, kh, kw) = raw.dims4()?;
                        let w = raw
                            .permute((0, 2, 3, 1))?
                            .reshape((cout, kh * kw * cin))?
                            .contiguous()?;
                        weight.get_or_init(|| w)
                    }
                };
                shifted_conv(x, weight, *k, band_bytes)?
            }
        };
        y.broadcast_add(&self.bias.reshape((1, (), 1, 1))?)
    }
}

fn shifted_conv(
    x: &Tensor,
    weight: &Tensor,
    k: usize,
    band_bytes: usize,
) -> candle_core::Result<Tensor> {
    let (b, c, h, w) = x.dims4()?;
    let cout = weight.dim(0)?;
    if k == 1 {
        let outs = (0..b)
            .map(|i| weight.matmul(&x.get(i)?.reshape((c, h * w))?))
            .collect::<candle_core::Result<Vec<_>>>()?;
        return Tensor::stack(&outs, 0)?.reshape((b, cout, h, w));
    }
    let xp = x.pad_with_zeros(2, 1, 1)?.pad_with_zeros(3, 1, 1)?;
    let row_bytes = 9 * c * w * x.dtype().size_in_bytes();
    let band = (band_bytes / row_bytes.max(1)).clamp(1, h);
    let mut outs = Vec::with_capacity(b);
    for i in 0..b {
        let xi = xp.get(i)?;
        let mut bands = Vec::with_capacity(h.div_ceil(band));
        for y0 in (0..h).step_by(band) {
            let rows = band.min(h - y0);
            let mut cols = Vec::with_capacity(9);
            for dy in 0..3 {
                for dx in 0..3 {
                    cols.push(xi.narrow(1, y0 + dy, rows)?.narrow(2, dx, w)?);
                }
            }
            let cols = Tensor::cat(&cols, 0)?.reshape((9 * c, rows * w))?;
            bands.push(weight.matmul(&cols)?.reshape((cout, rows, w))?);
        }
        outs.push(if bands.len() == 1 {
            bands.remove(0)
        } else {
            Tensor::cat(&bands, 1)?
        });
    }
    Tensor::stack(&outs, 0)
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

/// Bytes one block of attention scores may take; larger problems are
/// computed a few heads, or a block of query rows of one head, at a time
/// ("attention slicing"). Heads and query rows are independent, so slicing
/// changes memory, not results. Small blocks also stay below the size at
/// which the allocator maps fresh zeroed pages for every tensor (that
/// page-faulting took a fifth of a 512x512 step with whole-head blocks),
/// and the softmax runs in cache.
const ATTENTION_SLICE_BYTES: usize = 16 << 20;

/// Scaled dot-product attention over [b, heads, n, d] tensors, with an
/// optional additive mask broadcastable to [n, m]. In a `flash-attn` build,
/// unmasked f16/bf16 attention on CUDA runs in the flash-attention kernel
/// (see [`flash_applies`]); everything else computes the scores in slices.
pub fn attention(q: &Tensor, k: &Tensor, v: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
    #[cfg(feature = "flash-attn")]
    if mask.is_none() && v.dim(3)? == q.dim(3)? && flash_applies(q)? {
        return flash_attention(q, k, v);
    }
    attention_sliced(q, k, v, mask, ATTENTION_SLICE_BYTES)
}

/// Whether attention may use the flash-attention kernel where it applies.
/// On by default; benchmarks and tests switch it off to compare with
/// candle's kernels.
static FLASH_ATTENTION: AtomicBool = AtomicBool::new(true);

/// Lets attention use the flash-attention kernel, or not.
pub fn set_flash_attention(on: bool) {
    FLASH_ATTENTION.store(on, Ordering::Relaxed);
}

/// Whether unmasked attention over `q` ([b, heads, n, d]) runs in the
/// flash-attention kernel: a `flash-attn` build, a CUDA tensor in f16 or
/// bf16, and a head size that is a multiple of 8 up to 256 (SD's 40, 64,
/// 80 and 160 are; the VAE's single 512-wide head is not, and stays on
/// candle's kernels).
pub fn flash_applies(q: &Tensor) -> Result<bool> {
    let d = q.dim(3)?;
    Ok(cfg!(feature = "flash-attn")
        && FLASH_ATTENTION.load(Ordering::Relaxed)
        && q.device().is_cuda()
        && matches!(
            q.dtype(),
            candle_core::DType::F16 | candle_core::DType::BF16
        )
        && d % 8 == 0
        && d <= 256)
}

/// [`attention`] in candle-flash-attn's kernel, which takes [b, n, heads, d]
/// views (any strides but the last) and never holds the n x m scores.
#[cfg(feature = "flash-attn")]
fn flash_attention(q: &Tensor, k: &Tensor, v: &Tensor) -> Result<Tensor> {
    let scale = 1.0 / (q.dim(3)? as f32).sqrt();
    let t = |x: &Tensor| x.transpose(1, 2);
    let out = candle_flash_attn::flash_attn(&t(q)?, &t(k)?, &t(v)?, scale, false)?;
    Ok(out.transpose(1, 2)?)
}

pub(crate) fn attention_sliced(
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
    let row_bytes = m * q.dtype().size_in_bytes();
    let per = n * row_bytes;
    let block = |qs: &Tensor, ks: &Tensor, vs: &Tensor, mask: Option<Tensor>| -> Result<Tensor> {
        let mut att = qs.matmul(ks)?;
        if let Some(mask) = mask {
            att = att.broadcast_add(&mask)?;
        }
        Ok(softmax_last_dim(att)?.matmul(vs)?)
    };
    let mut outs = Vec::new();
    if per <= slice_bytes {
        // Several whole heads per slice.
        let step = (slice_bytes / per.max(1)).clamp(1, b * h);
        for start in (0..b * h).step_by(step) {
            let len = step.min(b * h - start);
            outs.push(block(
                &q.narrow(0, start, len)?,
                &k.narrow(0, start, len)?,
                &v.narrow(0, start, len)?,
                mask.cloned(),
            )?);
        }
    } else {
        // One head at a time, a block of query rows at a time.
        let rows = (slice_bytes / row_bytes.max(1)).clamp(1, n);
        for i in 0..b * h {
            let (ki, vi) = (k.narrow(0, i, 1)?, v.narrow(0, i, 1)?);
            let mut parts = Vec::with_capacity(n.div_ceil(rows));
            for r0 in (0..n).step_by(rows) {
                let len = rows.min(n - r0);
                let mask = match mask {
                    Some(mk) if mk.rank() >= 2 && mk.dim(mk.rank() - 2)? == n => {
                        Some(mk.narrow(mk.rank() - 2, r0, len)?)
                    }
                    other => other.cloned(),
                };
                parts.push(block(
                    &q.narrow(0, i, 1)?.narrow(1, r0, len)?,
                    &ki,
                    &vi,
                    mask,
                )?);
            }
            outs.push(Tensor::cat(&parts, 1)?);
        }
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

/// One row, with AVX2 and FMA where the CPU has them (checked once per
/// call; the generic body is compiled twice), else the baseline build.
fn softmax_row(row: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the features were just detected.
            unsafe { softmax_row_avx2(row) };
            return;
        }
    }
    softmax_row_generic(row)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn softmax_row_avx2(row: &mut [f32]) {
    softmax_row_generic(row)
}

/// Written in LANES independent lanes, with selects rather than branches
/// or `f32::max` (whose NaN rule blocks vectorisation), so that it
/// vectorises.
#[inline(always)]
fn softmax_row_generic(row: &mut [f32]) {
    let mut m = [f32::NEG_INFINITY; LANES];
    let mut chunks = row.chunks_exact(LANES);
    for c in &mut chunks {
        for (a, &x) in m.iter_mut().zip(c) {
            *a = if x > *a { x } else { *a };
        }
    }
    let mut max = f32::NEG_INFINITY;
    for &x in m.iter().chain(chunks.remainder()) {
        max = if x > max { x } else { max };
    }
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

/// Cephes `expf` without branches or libm calls so it vectorises: n is
/// x/ln2 rounded to nearest with the 1.5 * 2^23 trick (its integer read
/// from the float's low bits), r = x - n ln2 in two parts, a degree-6
/// polynomial for e^r, and 2^n built in the exponent bits. 0 below -87.3
/// (where f32 underflows), so a masked `-inf` score gives exactly 0.
#[inline(always)]
fn fast_exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    const LO: f32 = -87.336_55;
    const HI: f32 = 88.376_26;
    const MAGIC: f32 = 12_582_912.0;
    let xc = x.clamp(LO, HI);
    let t = xc * LOG2E + MAGIC;
    let n = t - MAGIC;
    let r = xc - n * LN2_HI - n * LN2_LO;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 0.5;
    let y = p * r * r + r + 1.0;
    let ni = (t.to_bits() as i32).wrapping_sub(MAGIC.to_bits() as i32);
    let scale = f32::from_bits((ni.wrapping_add(127) as u32) << 23);
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
    fn shifted_conv_matches_candle() {
        let dev = Device::Cpu;
        for (k, pad, stride, h, w) in [(3, 1, 1, 7, 5), (1, 0, 1, 4, 6), (3, 1, 2, 8, 8)] {
            let x = Tensor::randn(0f32, 1.0, (2, 6, h, w), &dev).unwrap();
            let wt = Tensor::randn(0f32, 0.3, (5, 6, k, k), &dev).unwrap();
            let bias = Tensor::randn(0f32, 0.1, 5, &dev).unwrap();
            let ours = Conv2d::new(wt.clone(), bias.clone(), stride, pad)
                .unwrap()
                .forward(&x)
                .unwrap();
            let cfg = Conv2dConfig {
                padding: pad,
                stride,
                ..Default::default()
            };
            let theirs = candle_nn::Conv2d::new(wt, Some(bias), cfg)
                .forward(&x)
                .unwrap();
            assert_eq!(ours.dims(), theirs.dims());
            let d = (ours - theirs).unwrap().abs().unwrap().max_all().unwrap();
            assert!(d.to_scalar::<f32>().unwrap() < 1e-5);
        }
    }

    #[test]
    fn banded_conv_equals_whole() {
        let dev = Device::Cpu;
        let x = Tensor::randn(0f32, 1.0, (2, 4, 9, 5), &dev).unwrap();
        let w = Tensor::randn(0f32, 0.3, (3, 36), &dev).unwrap();
        let whole = shifted_conv(&x, &w, 3, usize::MAX).unwrap();
        // One row per band, then two.
        for band in [1, 2 * 9 * 4 * 5 * 4] {
            let banded = shifted_conv(&x, &w, 3, band).unwrap();
            let d = (&whole - banded).unwrap().abs().unwrap().max_all().unwrap();
            assert_eq!(d.to_scalar::<f32>().unwrap(), 0.0);
        }
    }

    #[test]
    fn row_sliced_masked_attention_equals_whole() {
        let dev = Device::Cpu;
        let q = Tensor::randn(0f32, 1.0, (1, 2, 6, 4), &dev).unwrap();
        let mask: Vec<f32> = (0..6)
            .flat_map(|i| (0..6).map(move |j| if j > i { f32::NEG_INFINITY } else { 0.0 }))
            .collect();
        let mask = Tensor::from_vec(mask, (6, 6), &dev).unwrap();
        let whole = attention_sliced(&q, &q, &q, Some(&mask), usize::MAX).unwrap();
        let rows = attention_sliced(&q, &q, &q, Some(&mask), 2 * 6 * 4).unwrap();
        let d = (&whole - rows).unwrap().abs().unwrap().max_all().unwrap();
        assert_eq!(d.to_scalar::<f32>().unwrap(), 0.0);
        // The first query sees only itself.
        let first = whole.narrow(2, 0, 1).unwrap();
        let d = (first - q.narrow(2, 0, 1).unwrap())
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap();
        assert!(d.to_scalar::<f32>().unwrap() < 1e-6);
    }

    #[test]
    fn sliced_attention_equals_whole() {
        let dev = Device::Cpu;
        let q = Tensor::randn(0f32, 1.0, (2, 3, 5, 4), &dev).unwrap();
        let k = Tensor::randn(0f32, 1.0, (2, 3, 7, 4), &dev).unwrap();
        let v = Tensor::randn(0f32, 1.0, (2, 3, 7, 4), &dev).unwrap();
        let whole = attention_sliced(&q, &k, &v, None, usize::MAX).unwrap();
        // One (batch, head) pair per slice, then one query row at a time.
        let sliced = attention_sliced(&q, &k, &v, None, 5 * 7 * 4).unwrap();
        let rows = attention_sliced(&q, &k, &v, None, 1).unwrap();
        let d = (&whole - rows).unwrap().abs().unwrap().max_all().unwrap();
        assert_eq!(d.to_scalar::<f32>().unwrap(), 0.0);
        assert_eq!(whole.dims(), [2, 3, 5, 4]);
        let d = (whole - sliced).unwrap().abs().unwrap().max_all().unwrap();
        assert_eq!(d.to_scalar::<f32>().unwrap(), 0.0);
    }
}
