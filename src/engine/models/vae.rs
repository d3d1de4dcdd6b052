//! The LDM `AutoencoderKL` (VAE): encoder, decoder and the
//! `quant_conv`/`post_quant_conv` pair, in the original key layout
//! (`encoder.*`, `decoder.*`; `first_stage_model.` in a checkpoint, bare in
//! a standalone VAE file). Channels, levels and residual blocks are read
//! from the shapes; GroupNorm uses 32 groups and eps 1e-6 as in LDM.
//!
//! Tiled decoding ([`Vae::decode_tiled`]) bounds memory by decoding
//! overlapping latent tiles and blending them with weights that ramp
//! linearly across the overlap (as ComfyUI's `tiled_scale` does). It is not
//! bit-identical to the whole decode: each tile sees only its own
//! neighbourhood (the decoder's receptive field is cut at tile borders) and,
//! above all, the GroupNorm statistics are computed per tile. The blend
//! hides seams; the numeric difference is bounded in the tests. A tile at
//! least as large as the latent gives exactly the untiled result.

use super::Result;
use super::layers::Conv2d;
use super::layers::{Proj, conv2d, group_norm};
use super::weights::{Weights, layout_error};
use candle_core::{Device, Module, Tensor};
use candle_nn::GroupNorm;

const GROUPS: usize = 32;
const EPS: f64 = 1e-6;

#[derive(Debug, Clone, PartialEq)]
pub struct VaeConfig {
    pub latent_channels: usize,
    /// Channels of each level, shallow to deep.
    pub level_channels: Vec<usize>,
    pub res_blocks: usize,
    pub has_encoder: bool,
}

impl VaeConfig {
    /// From the view that holds `decoder.*` (and `encoder.*`).
    pub fn from_weights(w: &Weights) -> Result<Self> {
        let levels = w.count("decoder.up");
        if levels == 0 {
            return Err(layout_error(w, "no decoder.up blocks"));
        }
        let level_channels = (0..levels)
            .map(|i| w.dim(&format!("decoder.up.{i}.block.0.conv2.weight"), 0))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            latent_channels: w.dim("post_quant_conv.weight", 0)?,
            level_channels,
            res_blocks: w.count("decoder.up.0.block").saturating_sub(1),
            has_encoder: w.contains_prefix("encoder"),
        })
    }

    /// Upscale factor from latent to image.
    pub fn factor(&self) -> usize {
        1 << self.level_channels.len().saturating_sub(1)
    }
}

struct ResnetBlock {
    norm1: GroupNorm,
    conv1: Conv2d,
    norm2: GroupNorm,
    conv2: Conv2d,
    shortcut: Option<Conv2d>,
}

impl ResnetBlock {
    fn load(w: &Weights) -> Result<Self> {
        Ok(Self {
            norm1: group_norm(w, "norm1", GROUPS, EPS)?,
            conv1: conv2d(w, "conv1", 1, 1)?,
            norm2: group_norm(w, "norm2", GROUPS, EPS)?,
            conv2: conv2d(w, "conv2", 1, 1)?,
            shortcut: if w.contains("nin_shortcut.weight") {
                Some(conv2d(w, "nin_shortcut", 1, 0)?)
            } else {
                None
            },
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = self.conv1.forward(&self.norm1.forward(x)?.silu()?)?;
        let h = self.conv2.forward(&self.norm2.forward(&h)?.silu()?)?;
        let s = match &self.shortcut {
            Some(c) => c.forward(x)?,
            None => x.clone(),
        };
        Ok((s + h)?)
    }
}

struct AttnBlock {
    norm: GroupNorm,
    q: Proj,
    k: Proj,
    v: Proj,
    out: Proj,
}

impl AttnBlock {
    fn load(w: &Weights) -> Result<Self> {
        Ok(Self {
            norm: group_norm(w, "norm", GROUPS, EPS)?,
            q: Proj::load(w, "q")?,
            k: Proj::load(w, "k")?,
            v: Proj::load(w, "v")?,
            out: Proj::load(w, "proj_out")?,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, c, h, w) = x.dims4()?;
        let n = self.norm.forward(x)?;
        // Single-head attention over the h*w positions.
        let seq = |p: &Proj| -> Result<Tensor> {
            if p.is_linear() {
                let s = n.reshape((b, c, h * w))?.transpose(1, 2)?.contiguous()?;
                p.forward(&s)
            } else {
                Ok(p.forward(&n)?
                    .reshape((b, c, h * w))?
                    .transpose(1, 2)?
                    .contiguous()?)
            }
        };
        let (q, k, v) = (seq(&self.q)?, seq(&self.k)?, seq(&self.v)?);
        let a =
            super::layers::attention(&q.unsqueeze(1)?, &k.unsqueeze(1)?, &v.unsqueeze(1)?, None)?
                .squeeze(1)?;
        let out = if self.out.is_linear() {
            self.out
                .forward(&a)?
                .transpose(1, 2)?
                .reshape((b, c, h, w))?
        } else {
            self.out
                .forward(&a.transpose(1, 2)?.reshape((b, c, h, w))?)?
        };
        Ok((x + out)?)
    }
}

struct Mid {
    block1: ResnetBlock,
    attn: AttnBlock,
    block2: ResnetBlock,
}

impl Mid {
    fn load(w: &Weights) -> Result<Self> {
        Ok(Self {
            block1: ResnetBlock::load(&w.pp("block_1"))?,
            attn: AttnBlock::load(&w.pp("attn_1"))?,
            block2: ResnetBlock::load(&w.pp("block_2"))?,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.block2
            .forward(&self.attn.forward(&self.block1.forward(x)?)?)
    }
}

struct Level {
    blocks: Vec<ResnetBlock>,
    /// Downsample (encoder) or upsample (decoder) convolution.
    resample: Option<Conv2d>,
}

pub struct Encoder {
    conv_in: Conv2d,
    down: Vec<Level>,
    mid: Mid,
    norm_out: GroupNorm,
    conv_out: Conv2d,
}

impl Encoder {
    fn load(w: &Weights) -> Result<Self> {
        let down = (0..w.count("down"))
            .map(|i| {
                let l = w.pp(format!("down.{i}"));
                Ok(Level {
                    blocks: (0..l.count("block"))
                        .map(|j| ResnetBlock::load(&l.pp(format!("block.{j}"))))
                        .collect::<Result<_>>()?,
                    resample: if l.contains("downsample.conv.weight") {
                        Some(conv2d(&l, "downsample.conv", 2, 0)?)
                    } else {
                        None
                    },
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            conv_in: conv2d(w, "conv_in", 1, 1)?,
            down,
            mid: Mid::load(&w.pp("mid"))?,
            norm_out: group_norm(w, "norm_out", GROUPS, EPS)?,
            conv_out: conv2d(w, "conv_out", 1, 1)?,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = self.conv_in.forward(x)?;
        for level in &self.down {
            for b in &level.blocks {
                h = b.forward(&h)?;
            }
            if let Some(c) = &level.resample {
                // LDM pads right and bottom by one, then a 3x3 stride-2 conv.
                h = c.forward(&h.pad_with_zeros(3, 0, 1)?.pad_with_zeros(2, 0, 1)?)?;
            }
        }
        h = self.mid.forward(&h)?;
        Ok(self.conv_out.forward(&self.norm_out.forward(&h)?.silu()?)?)
    }
}

pub struct Decoder {
    conv_in: Conv2d,
    mid: Mid,
    /// `up.N`, stored in file order (applied from the last to the first).
    up: Vec<Level>,
    norm_out: GroupNorm,
    conv_out: Conv2d,
}

impl Decoder {
    fn load(w: &Weights) -> Result<Self> {
        let up = (0..w.count("up"))
            .map(|i| {
                let l = w.pp(format!("up.{i}"));
                Ok(Level {
                    blocks: (0..l.count("block"))
                        .map(|j| ResnetBlock::load(&l.pp(format!("block.{j}"))))
                        .collect::<Result<_>>()?,
                    resample: if l.contains("upsample.conv.weight") {
                        Some(conv2d(&l, "upsample.conv", 1, 1)?)
                    } else {
                        None
                    },
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            conv_in: conv2d(w, "conv_in", 1, 1)?,
            mid: Mid::load(&w.pp("mid"))?,
            up,
            norm_out: group_norm(w, "norm_out", GROUPS, EPS)?,
            conv_out: conv2d(w, "conv_out", 1, 1)?,
        })
    }

    fn forward(&self, z: &Tensor) -> Result<Tensor> {
        let mut h = self.mid.forward(&self.conv_in.forward(z)?)?;
        for level in self.up.iter().rev() {
            for b in &level.blocks {
                h = b.forward(&h)?;
            }
            if let Some(c) = &level.resample {
                let (_, _, hh, ww) = h.dims4()?;
                h = c.forward(&h.upsample_nearest2d(hh * 2, ww * 2)?)?;
            }
        }
        Ok(self.conv_out.forward(&self.norm_out.forward(&h)?.silu()?)?)
    }
}

/// A loaded VAE.
pub struct Vae {
    config: VaeConfig,
    encoder: Option<(Encoder, Conv2d)>,
    decoder: Decoder,
    post_quant: Conv2d,
    /// Latent scale (0.18215 for SD1.5/SD2.x, 0.13025 for SDXL).
    pub scale: f64,
}

/// Tiling of [`Vae::decode_tiled`], in latent pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tiling {
    pub tile: usize,
    pub overlap: usize,
}

impl Default for Tiling {
    /// ComfyUI's `VAEDecodeTiled` default: 512 px tiles, 64 px overlap.
    fn default() -> Self {
        Self {
            tile: 64,
            overlap: 8,
        }
    }
}

impl Vae {
    /// Loads from the view holding `encoder.*`/`decoder.*`; the encoder is
    /// loaded only when `with_encoder` (it is accounted as ignored
    /// otherwise by the loader).
    pub fn load(w: &Weights, scale: f64, with_encoder: bool) -> Result<Self> {
        let config = VaeConfig::from_weights(w)?;
        let encoder = if with_encoder && config.has_encoder {
            Some((
                Encoder::load(&w.pp("encoder"))?,
                conv2d(w, "quant_conv", 1, 0)?,
            ))
        } else {
            None
        };
        Ok(Self {
            decoder: Decoder::load(&w.pp("decoder"))?,
            post_quant: conv2d(w, "post_quant_conv", 1, 0)?,
            encoder,
            config,
            scale,
        })
    }

    pub fn config(&self) -> &VaeConfig {
        &self.config
    }

    /// Upscale factor from latent to image.
    pub fn factor(&self) -> usize {
        self.config.factor()
    }

    /// Scaled latents [b, c, h, w] -> images [b, 3, 8h, 8w] in [-1, 1]
    /// (not clamped).
    pub fn decode(&self, latents: &Tensor) -> Result<Tensor> {
        let z = (latents / self.scale)?;
        self.decoder.forward(&self.post_quant.forward(&z)?)
    }

    /// Images [b, 3, H, W] in [-1, 1] -> scaled latents (the mean of the
    /// posterior, as ComfyUI encodes).
    pub fn encode(&self, images: &Tensor) -> Result<Tensor> {
        let (enc, quant) = self.encoder.as_ref().ok_or_else(|| {
            super::ModelError::Invalid("this VAE was loaded without its encoder".into())
        })?;
        let moments = quant.forward(&enc.forward(images)?)?;
        let mean = moments.narrow(1, 0, self.config.latent_channels)?;
        Ok((mean * self.scale)?)
    }

    /// Decodes in overlapping tiles, blended with linear ramps over the
    /// overlap. See the module documentation for how it differs from
    /// [`Vae::decode`].
    pub fn decode_tiled(&self, latents: &Tensor, tiling: Tiling) -> Result<Tensor> {
        let (b, _, h, w) = latents.dims4()?;
        let tile = tiling.tile.max(1);
        if h <= tile && w <= tile {
            return self.decode(latents);
        }
        let overlap = tiling.overlap.min(tile / 2);
        let f = self.factor();
        let device = latents.device();
        let mut acc = Tensor::zeros((b, 3, h * f, w * f), candle_core::DType::F32, device)?;
        let mut weight = Tensor::zeros((1, 1, h * f, w * f), candle_core::DType::F32, device)?;
        for y0 in tile_starts(h, tile, overlap) {
            for x0 in tile_starts(w, tile, overlap) {
                let (th, tw) = (tile.min(h - y0), tile.min(w - x0));
                let part = latents.narrow(2, y0, th)?.narrow(3, x0, tw)?.contiguous()?;
                let img = self.decode(&part)?.to_dtype(candle_core::DType::F32)?;
                let mask = ramp_mask(
                    th * f,
                    tw * f,
                    overlap * f,
                    (y0 > 0, y0 + th < h, x0 > 0, x0 + tw < w),
                    device,
                )?;
                let (py, px) = (y0 * f, x0 * f);
                let ranges = [0..b, 0..3, py..py + th * f, px..px + tw * f];
                let cur = acc.narrow(2, py, th * f)?.narrow(3, px, tw * f)?;
                acc = acc.slice_assign(&ranges, &(cur + img.broadcast_mul(&mask)?)?)?;
                let wr = [0..1, 0..1, py..py + th * f, px..px + tw * f];
                let cw = weight.narrow(2, py, th * f)?.narrow(3, px, tw * f)?;
                weight = weight.slice_assign(&wr, &(cw + mask)?)?;
            }
        }
        Ok(acc.broadcast_div(&weight)?.to_dtype(latents.dtype())?)
    }
}

/// Images [b, 3, H, W] in [-1, 1] to interleaved RGB bytes per image, as
/// ComfyUI saves them: `clamp((x + 1) / 2, 0, 1) * 255`, truncated (not
/// rounded) to u8, so the PNG bytes match ComfyUI's.
pub fn to_rgb8(images: &Tensor) -> Result<Vec<Vec<u8>>> {
    let (b, c, _, _) = images.dims4()?;
    if c != 3 {
        return Err(super::ModelError::Invalid(format!(
            "{c}-channel image, expected RGB"
        )));
    }
    let x = ((images.to_dtype(candle_core::DType::F32)? + 1.0)? / 2.0)?.clamp(0f32, 1f32)?;
    let x = (x * 255.0)?.permute((0, 2, 3, 1))?.contiguous()?;
    (0..b)
        .map(|i| {
            let v: Vec<f32> = x.get(i)?.flatten_all()?.to_vec1()?;
            Ok(v.into_iter().map(|p| p as u8).collect())
        })
        .collect()
}

/// Interleaved RGB bytes [h, w, 3] to an image [1, 3, h, w] in [-1, 1],
/// as ComfyUI's VAEEncode hands pixels to the VAE (the inverse of
/// [`to_rgb8`] up to its truncation).
pub fn from_rgb8(rgb: &[u8], h: usize, w: usize, device: &Device) -> Result<Tensor> {
    if rgb.len() != h * w * 3 {
        return Err(super::ModelError::Invalid(format!(
            "the image has {} bytes, not {h}x{w} RGB ({})",
            rgb.len(),
            h * w * 3
        )));
    }
    let t = Tensor::from_vec(rgb.to_vec(), (h, w, 3), device)?
        .permute((2, 0, 1))?
        .to_dtype(candle_core::DType::F32)?
        .unsqueeze(0)?;
    Ok(((t / 127.5)? - 1.0)?)
}

/// Start offsets covering `len` with tiles of `tile` overlapping by
/// `overlap`; the last tile is aligned to the end.
fn tile_starts(len: usize, tile: usize, overlap: usize) -> Vec<usize> {
    if len <= tile {
        return vec![0];
    }
    let stride = (tile - overlap).max(1);
    let mut starts: Vec<usize> = (0..)
        .map(|i| i * stride)
        .take_while(|&s| s + tile < len)
        .collect();
    starts.push(len - tile);
    starts.dedup();
    starts
}

/// Blend weights: 1 inside, ramping linearly from 1/ramp to 1 across
/// `ramp` pixels on each side that borders another tile.
fn ramp_mask(
    h: usize,
    w: usize,
    ramp: usize,
    (top, bottom, left, right): (bool, bool, bool, bool),
    device: &candle_core::Device,
) -> Result<Tensor> {
    let edge = |i: usize, n: usize, lo: bool, hi: bool| -> f32 {
        let mut v = 1.0f32;
        if ramp > 0 {
            if lo && i < ramp {
                v = v.min((i + 1) as f32 / ramp as f32);
            }
            if hi && n - 1 - i < ramp {
                v = v.min((n - i) as f32 / ramp as f32);
            }
        }
        v
    };
    let data: Vec<f32> = (0..h)
        .flat_map(|y| (0..w).map(move |x| edge(y, h, top, bottom) * edge(x, w, left, right)))
        .collect();
    Ok(Tensor::from_vec(data, (1, 1, h, w), device)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rgb8_truncates_like_comfyui() {
        let x = Tensor::from_vec(
            vec![-1.5f32, -1.0, 0.0, 0.999, 1.0, 2.0],
            (1, 3, 1, 2),
            &candle_core::Device::Cpu,
        )
        .unwrap();
        // Channels R = [-1.5, -1], G = [0, 0.999], B = [1, 2], interleaved
        // per pixel; (0.999 + 1) / 2 * 255 = 254.87 -> 254; 0 -> 127.5 -> 127.
        assert_eq!(to_rgb8(&x).unwrap(), vec![vec![0, 127, 255, 0, 254, 255]]);
    }

    #[test]
    fn tiles_cover_the_latent() {
        assert_eq!(tile_starts(10, 4, 2), vec![0, 2, 4, 6]);
        assert_eq!(tile_starts(10, 16, 4), vec![0]);
        assert_eq!(tile_starts(9, 4, 0), vec![0, 4, 5]);
    }
}
