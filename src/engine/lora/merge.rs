//! ComfyUI's `calculate_weight`, patch by patch, in f32.
//!
//! ComfyUI casts the original weight to f32, applies each patch in the order
//! the LoRAs were loaded, and casts the result back to the weight's dtype.
//! Each patch adds `((strength·alpha) · diff)` where `alpha` is the file's
//! alpha over the rank (1 when the file has none) and the product
//! `strength·alpha` is formed in double precision, then rounded to f32 as
//! torch does with a Python scalar. The factors are cast to f32 before any
//! product. A patch on part of a fused weight (OpenCLIP q/k/v) works on
//! those rows only, as ComfyUI's `narrow` offset does.
//!
//! Where ComfyUI logs a shape mismatch and leaves the weight unmerged, this
//! returns an error naming the key: a silently half-applied LoRA is worse
//! than a refusal.

use candle_core::{D, DType, Tensor};

use super::adapter::{Adapter, Factor};
use super::keymap::Part;
use super::{LoraError, Patch};

type Result<T> = std::result::Result<T, LoraError>;

/// `weight` with every patch applied, in the weight's own dtype.
pub fn merge(key: &str, weight: &Tensor, patches: &[Patch]) -> Result<Tensor> {
    let wrap = |e| LoraError::tensor(key, e);
    if patches.is_empty() {
        return Ok(weight.clone());
    }
    let mut w = weight.to_dtype(DType::F32).map_err(wrap)?;
    for patch in patches {
        w = match patch.part {
            None => apply(key, &w, &patch.adapter, patch.strength)?,
            Some(part) => apply_part(key, &w, patch, part)?,
        };
    }
    w.to_dtype(weight.dtype()).map_err(wrap)
}

/// A patch on rows `[index·n/of, (index+1)·n/of)` of the weight.
fn apply_part(key: &str, w: &Tensor, patch: &Patch, part: Part) -> Result<Tensor> {
    let wrap = |e| LoraError::tensor(key, e);
    let n = w.dim(0).map_err(wrap)?;
    if part.of == 0 || n % part.of != 0 || part.index >= part.of {
        return Err(LoraError::Shape {
            key: key.to_string(),
            detail: format!(
                "cannot take part {} of {} from {n} rows",
                part.index, part.of
            ),
        });
    }
    let size = n / part.of;
    let start = part.index * size;
    let slice = w.narrow(0, start, size).map_err(wrap)?;
    let merged = apply(key, &slice, &patch.adapter, patch.strength)?;
    let mut pieces = Vec::with_capacity(3);
    if start > 0 {
        pieces.push(w.narrow(0, 0, start).map_err(wrap)?);
    }
    pieces.push(merged);
    if start + size < n {
        pieces.push(w.narrow(0, start + size, n - start - size).map_err(wrap)?);
    }
    Tensor::cat(&pieces, 0).map_err(wrap)
}

/// One patch on an f32 weight.
fn apply(key: &str, w: &Tensor, adapter: &Adapter, strength: f64) -> Result<Tensor> {
    let wrap = |e| LoraError::tensor(key, e);
    let (diff, alpha, dora_scale) = match adapter {
        Adapter::Lora {
            up,
            down,
            mid,
            alpha,
            dora_scale,
        } => {
            let rank = down.dim(0).map_err(wrap)?;
            let diff = lora_diff(up, down, mid.as_ref()).map_err(wrap)?;
            (diff, scale(*alpha, Some(rank)), dora_scale.as_ref())
        }
        Adapter::LoHa {
            w1a,
            w1b,
            w2a,
            w2b,
            t,
            alpha,
            dora_scale,
        } => {
            let rank = w1b.dim(0).map_err(wrap)?;
            let diff = loha_diff(w1a, w1b, w2a, w2b, t.as_ref()).map_err(wrap)?;
            (diff, scale(*alpha, Some(rank)), dora_scale.as_ref())
        }
        Adapter::LoKr {
            w1,
            w2,
            t2,
            alpha,
            dora_scale,
        } => {
            let (diff, rank) = lokr_diff(w1, w2, t2.as_ref()).map_err(wrap)?;
            (diff, scale(*alpha, rank), dora_scale.as_ref())
        }
        Adapter::Diff(d) => (f32(d).map_err(wrap)?, 1.0, None),
    };
    let diff = reshape_like(key, &diff, w)?;
    match dora_scale {
        Some(d) => dora(key, w, &diff, alpha, strength, d),
        None => {
            let k = (strength * alpha) as f32;
            (w + diff.affine(f64::from(k), 0.0).map_err(wrap)?).map_err(wrap)
        }
    }
}

/// `alpha / rank`, or 1 without alpha (or, for LoKr, without a factored
/// side to give the rank).
fn scale(alpha: Option<f64>, rank: Option<usize>) -> f64 {
    match (alpha, rank) {
        (Some(a), Some(r)) => a / r as f64,
        _ => 1.0,
    }
}

fn f32(t: &Tensor) -> candle_core::Result<Tensor> {
    t.to_dtype(DType::F32)
}

/// `x.flatten(start_dim=1)`.
fn flat2(t: &Tensor) -> candle_core::Result<Tensor> {
    if t.rank() == 2 {
        Ok(t.clone())
    } else {
        t.flatten_from(1)
    }
}

/// `up.flatten(1) @ down.flatten(1)`; with a Tucker mid, the down side first
/// becomes `[rank, in, kh, kw]` through the mid kernel.
fn lora_diff(up: &Tensor, down: &Tensor, mid: Option<&Tensor>) -> candle_core::Result<Tensor> {
    let up = f32(up)?;
    let mut down = f32(down)?;
    if let Some(mid) = mid {
        let mid = f32(mid)?;
        let (rank, input) = (down.dim(0)?, down.dim(1)?);
        let (kh, kw) = (mid.dim(2)?, mid.dim(3)?);
        let lhs = flat2(&down.transpose(0, 1)?.contiguous()?)?;
        let rhs = flat2(&mid.transpose(0, 1)?.contiguous()?)?;
        down = lhs
            .matmul(&rhs)?
            .reshape((input, rank, kh, kw))?
            .transpose(0, 1)?
            .contiguous()?;
    }
    flat2(&up)?.matmul(&flat2(&down)?)
}

fn loha_diff(
    w1a: &Tensor,
    w1b: &Tensor,
    w2a: &Tensor,
    w2b: &Tensor,
    t: Option<&(Tensor, Tensor)>,
) -> candle_core::Result<Tensor> {
    let (m1, m2) = match t {
        Some((t1, t2)) => (tucker(t1, w1b, w1a)?, tucker(t2, w2b, w2a)?),
        None => (f32(w1a)?.matmul(&f32(w1b)?)?, f32(w2a)?.matmul(&f32(w2b)?)?),
    };
    m1 * m2
}

/// `einsum('i j k l, j r, i p -> p r k l', t, wb, wa)`.
fn tucker(t: &Tensor, wb: &Tensor, wa: &Tensor) -> candle_core::Result<Tensor> {
    let (t, wb, wa) = (f32(t)?, f32(wb)?, f32(wa)?);
    let (i, j, k, l) = t.dims4()?;
    let r = wb.dim(1)?;
    let p = wa.dim(1)?;
    // over j: [i, k·l, j] @ [j, r] → [i, k·l, r]
    let tj = t.reshape((i, j, k * l))?.transpose(1, 2)?.contiguous()?;
    let tj = tj.reshape((i * k * l, j))?.matmul(&wb)?;
    // over i: [p, i] @ [i, k·l·r] → [p, k, l, r] → [p, r, k, l]
    let out = wa.t()?.contiguous()?.matmul(&tj.reshape((i, k * l * r))?)?;
    out.reshape((p, k, l, r))?
        .permute((0, 3, 1, 2))?
        .contiguous()
}

/// `kron(w1, w2)` and the rank that scales alpha (that of the last factored
/// side, as ComfyUI takes it).
fn lokr_diff(
    w1: &Factor,
    w2: &Factor,
    t2: Option<&Tensor>,
) -> candle_core::Result<(Tensor, Option<usize>)> {
    let mut rank = None;
    let w1 = match w1 {
        Factor::Full(w) => f32(w)?,
        Factor::Product(a, b) => {
            rank = Some(b.dim(0)?);
            f32(a)?.matmul(&f32(b)?)?
        }
    };
    let w2 = match (w2, t2) {
        (Factor::Full(w), _) => f32(w)?,
        (Factor::Product(a, b), t2) => {
            rank = Some(b.dim(0)?);
            match t2 {
                Some(t2) => tucker(t2, b, a)?,
                None => f32(a)?.matmul(&f32(b)?)?,
            }
        }
    };
    Ok((kron(&w1, &w2)?, rank))
}

/// torch.kron for a 2-D `a` and a 2-D or 4-D `b` (a gets unit kernel dims).
fn kron(a: &Tensor, b: &Tensor) -> candle_core::Result<Tensor> {
    let (p, q) = a.dims2()?;
    let (m, n) = (b.dim(0)?, b.dim(1)?);
    let kernel: Vec<usize> = b.dims()[2..].to_vec();
    let mut a_shape = vec![p, 1, q, 1];
    let mut b_shape = vec![1, m, 1, n];
    a_shape.extend(kernel.iter().map(|_| 1));
    b_shape.extend(kernel.iter().copied());
    let product = a.reshape(a_shape)?.broadcast_mul(&b.reshape(b_shape)?)?;
    let mut out = vec![p * m, q * n];
    out.extend(kernel);
    product.reshape(out)
}

fn reshape_like(key: &str, diff: &Tensor, w: &Tensor) -> Result<Tensor> {
    if diff.elem_count() != w.elem_count() {
        return Err(LoraError::Shape {
            key: key.to_string(),
            detail: format!(
                "the adapter makes {:?} ({} values) for a weight of {:?}",
                diff.dims(),
                diff.elem_count(),
                w.dims()
            ),
        });
    }
    diff.reshape(w.dims())
        .and_then(|d| d.to_device(w.device()))
        .map_err(|e| LoraError::tensor(key, e))
}

/// ComfyUI's `weight_decompose` (DoRA with the magnitude per input column,
/// as kohya/LyCORIS store `dora_scale` [1, in, ...]).
fn dora(
    key: &str,
    w: &Tensor,
    diff: &Tensor,
    alpha: f64,
    strength: f64,
    dora_scale: &Tensor,
) -> Result<Tensor> {
    let wrap = |e| LoraError::tensor(key, e);
    let input = w.dim(1).map_err(wrap)?;
    if dora_scale.elem_count() != input || dora_scale.dim(0).map_err(wrap)? != 1 {
        return Err(LoraError::Unsupported {
            key: key.to_string(),
            what: format!(
                "dora_scale of shape {:?} (only the [1, {input}, ...] form, magnitude per input column, is supported)",
                dora_scale.dims()
            ),
        });
    }
    let run = || -> candle_core::Result<Tensor> {
        let calc = (w + diff.affine(f64::from(alpha as f32), 0.0)?)?;
        let columns = calc.transpose(0, 1)?.contiguous()?.reshape((input, ()))?;
        let norm = columns.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?;
        let mut shape = vec![1, input];
        shape.extend(std::iter::repeat_n(1, w.rank() - 2));
        let norm = norm.reshape(shape.as_slice())?;
        let scale = f32(dora_scale)?
            .reshape(shape.as_slice())?
            .to_device(w.device())?;
        let calc = calc.broadcast_mul(&(scale / norm)?)?;
        if strength == 1.0 {
            Ok(calc)
        } else {
            w + (calc - w)?.affine(f64::from(strength as f32), 0.0)?
        }
    };
    run().map_err(wrap)
}

/// Why a patch cannot apply to a weight of this shape (`None` when it fits):
/// the adapter's product must have as many values as the weight (or its
/// fused part), as ComfyUI's `reshape(weight.shape)` requires.
pub(super) fn misfit(patch: &Patch, shape: Option<&[usize]>) -> Option<String> {
    let Some(shape) = shape else {
        return Some("the checkpoint has no such weight".into());
    };
    let mut rows = shape.first().copied().unwrap_or(1);
    if let Some(part) = patch.part {
        if part.of == 0 || rows % part.of != 0 {
            return Some(format!("{shape:?} cannot be split in {} parts", part.of));
        }
        rows /= part.of;
    }
    let want = rows * shape.iter().skip(1).product::<usize>();
    let have = match product_len(&patch.adapter) {
        Ok(n) => n,
        Err(e) => return Some(format!("malformed adapter: {e}")),
    };
    if have != want {
        return Some(format!(
            "the {} adapter makes {have} values for a weight of {want} ({shape:?}{})",
            patch.adapter.kind(),
            if patch.part.is_some() {
                ", one part"
            } else {
                ""
            }
        ));
    }
    if let Some(d) = dora_scale_of(&patch.adapter) {
        let input = shape.get(1).copied().unwrap_or(0);
        if d.elem_count() != input {
            return Some(format!(
                "dora_scale {:?} is not [1, {input}, ...]",
                d.dims()
            ));
        }
    }
    None
}

fn dora_scale_of(adapter: &Adapter) -> Option<&Tensor> {
    match adapter {
        Adapter::Lora { dora_scale, .. }
        | Adapter::LoHa { dora_scale, .. }
        | Adapter::LoKr { dora_scale, .. } => dora_scale.as_ref(),
        Adapter::Diff(_) => None,
    }
}

/// Number of values an adapter's product has, from the factors' shapes.
fn product_len(adapter: &Adapter) -> candle_core::Result<usize> {
    let rest = |t: &Tensor| -> candle_core::Result<usize> { Ok(t.elem_count() / t.dim(0)?.max(1)) };
    Ok(match adapter {
        Adapter::Lora { up, down, mid, .. } => match mid {
            None => up.dim(0)? * rest(down)?,
            Some(mid) => up.dim(0)? * down.dim(1)? * mid.dims()[2..].iter().product::<usize>(),
        },
        Adapter::LoHa { w1a, w1b, t, .. } => match t {
            None => w1a.dim(0)? * w1b.dim(1)?,
            Some((t1, _)) => w1a.dim(1)? * w1b.dim(1)? * t1.dims()[2..].iter().product::<usize>(),
        },
        Adapter::LoKr { w1, w2, t2, .. } => {
            let w1 = match w1 {
                Factor::Full(w) => w.elem_count(),
                Factor::Product(a, b) => a.dim(0)? * rest(b)?,
            };
            let w2 = match (w2, t2) {
                (Factor::Full(w), _) => w.elem_count(),
                (Factor::Product(a, b), None) => a.dim(0)? * rest(b)?,
                (Factor::Product(a, b), Some(t)) => {
                    a.dim(1)? * b.dim(1)? * t.dims()[2..].iter().product::<usize>()
                }
            };
            w1 * w2
        }
        Adapter::Diff(d) => d.elem_count(),
    })
}
