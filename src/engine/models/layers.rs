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
        let att = candle_nn::ops::softmax_last_dim(&att)?;
        outs.push(att.matmul(&v.narrow(0, start, len)?)?);
    }
    let out = if outs.len() == 1 {
        outs.remove(0)
    } else {
        Tensor::cat(&outs, 0)?
    };
    Ok(out.reshape((b, h, n, ()))?)
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
