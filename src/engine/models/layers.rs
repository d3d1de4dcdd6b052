//! Building blocks shared by the text encoders, the UNet and the VAE,
//! constructed from named tensors so that a missing or misshapen tensor is
//! reported by its key.

use super::Result;
use super::weights::Weights;
use candle_core::{D, Module, Tensor};
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

/// Scaled dot-product attention over [b, heads, n, d] tensors, with an
/// optional additive mask broadcastable to [b, heads, n, m].
pub fn attention(q: &Tensor, k: &Tensor, v: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
    let d = q.dim(D::Minus1)?;
    let scale = 1.0 / (d as f64).sqrt();
    let q = (q * scale)?;
    let mut att = q.contiguous()?.matmul(&k.t()?.contiguous()?)?;
    if let Some(m) = mask {
        att = att.broadcast_add(m)?;
    }
    let att = candle_nn::ops::softmax_last_dim(&att)?;
    Ok(att.matmul(&v.contiguous()?)?)
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
