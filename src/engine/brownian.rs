//! torchsde's Brownian tree, seeded as ComfyUI seeds it, for the SDE
//! samplers (dpmpp_sde, dpmpp_2m_sde) to draw ComfyUI's noise.
//!
//! ComfyUI's `BrownianTreeNoiseSampler` builds a `torchsde.BrownianTree`
//! (a `BrownianInterval` with `halfway_tree=True`, `tol=1e-6`,
//! `pool_size=24`) over [sigma_min, sigma_max] with the seed as entropy, and
//! asks it for the increment W(sigma_next, sigma) at each step. The tree
//! splits intervals at their (decimal-rounded) midpoints; each split draws
//! its own `torch.randn` from a seed that numpy's `SeedSequence` derives from
//! the entropy and the node's position, and a child's increment is the
//! Brownian bridge between its parent's ends. This module replays all of it:
//! `SeedSequence`, Python's `round(x, 6)`, the bridge in float32 with the
//! scalars rounded as torch rounds them. It trades memory for a simple
//! recursion: increments are cached per node, at most [`CACHE_SIZE`] of them
//! (torchsde's own LRU size), and recomputed on a miss, which gives the same
//! numbers because every draw is seeded.

use std::collections::{HashMap, VecDeque};

use candle_core::{Device, Result, Shape, Tensor};

use super::noise::TorchRng;

/// torchsde's `BrownianTree` defaults.
const POOL_SIZE: usize = 24;
const CACHE_SIZE: usize = 45;

/// ComfyUI's `BrownianTreeNoiseSampler(x, sigma_min, sigma_max, seed, cpu=True)`.
#[derive(Debug)]
pub struct BrownianTreeNoise {
    tree: BrownianTree,
    shape: Shape,
}

impl BrownianTreeNoise {
    /// A tree over [sigma_min, sigma_max] for latents of `shape`.
    pub fn new(shape: &Shape, sigma_min: f32, sigma_max: f32, seed: u64) -> Self {
        let (t0, t1) = if sigma_min < sigma_max {
            (sigma_min, sigma_max)
        } else {
            (sigma_max, sigma_min)
        };
        BrownianTreeNoise {
            tree: BrownianTree::new(t0 as f64, t1 as f64, shape.elem_count(), seed),
            shape: shape.clone(),
        }
    }

    /// The normalised increment between two sigmas:
    /// W(sigma, sigma_next) / sqrt(|sigma_next - sigma|).
    pub fn sample(&mut self, sigma: f32, sigma_next: f32) -> Result<Tensor> {
        let (lo, hi, sign) = if sigma < sigma_next {
            (sigma, sigma_next, 1.0)
        } else {
            (sigma_next, sigma, -1.0)
        };
        let w = self.tree.increment(lo as f64, hi as f64);
        let norm = (sigma_next - sigma).abs().sqrt();
        let data: Vec<f32> = w.iter().map(|v| v * sign / norm).collect();
        Tensor::from_vec(data, &self.shape, &Device::Cpu)
    }
}

#[derive(Debug)]
struct Node {
    start: f64,
    end: f64,
    parent: usize,
    is_left: bool,
    /// Set once the node is split: where, its children and its bridge seed.
    split: Option<Split>,
}

#[derive(Debug, Clone, Copy)]
struct Split {
    midway: f64,
    left: usize,
    right: usize,
    w_seed: u32,
    spawn_key: u128,
    depth: u32,
}

/// torchsde's `BrownianInterval(halfway_tree=True, tol=1e-6)` without Lévy area.
#[derive(Debug)]
struct BrownianTree {
    entropy: u64,
    numel: usize,
    nodes: Vec<Node>,
    root_w: Vec<f32>,
    cache: HashMap<usize, Vec<f32>>,
    order: VecDeque<usize>,
    last: usize,
}

impl BrownianTree {
    fn new(t0: f64, t1: f64, numel: usize, entropy: u64) -> Self {
        let seeds = seed_sequence(&words(entropy as u128), &[], POOL_SIZE, 3);
        let mut root_w = TorchRng::manual_seed(seeds[0] as u64).randn(numel);
        let scale = (t1 - t0).sqrt() as f32;
        root_w.iter_mut().for_each(|v| *v *= scale);
        let root = Node {
            start: round6(t0),
            end: round6(t1),
            parent: 0,
            is_left: false,
            split: None,
        };
        BrownianTree {
            entropy,
            numel,
            nodes: vec![root],
            root_w,
            cache: HashMap::new(),
            order: VecDeque::new(),
            last: 0,
        }
    }

    /// W(tb) - W(ta), with torchsde's clamping of the query to the interval.
    fn increment(&mut self, ta: f64, tb: f64) -> Vec<f32> {
        let (start, end) = (self.nodes[0].start, self.nodes[0].end);
        let (ta, tb) = (ta.clamp(start, end), tb.clamp(start, end));
        let (ta, tb) = (round6(ta), round6(tb));
        let finite = start.is_finite() && end.is_finite();
        if !finite || ta.partial_cmp(&tb) != Some(std::cmp::Ordering::Less) {
            // torchsde returns zeros for ta == tb; a query narrower than the
            // tolerance (or a non-finite one) would recurse without end
            // there, and gives zeros here.
            return vec![0.0; self.numel];
        }
        let mut found = Vec::new();
        self.locate(self.last, ta, tb, &mut found);
        self.last = *found.last().unwrap_or(&0);
        let mut total = self.node_w(found[0]);
        for id in &found[1..] {
            let w = self.node_w(*id);
            total.iter_mut().zip(&w).for_each(|(t, v)| *t += v);
        }
        total
    }

    /// `_loc_inner`: the existing or newly split nodes covering [ta, tb].
    fn locate(&mut self, id: usize, ta: f64, tb: f64, out: &mut Vec<usize>) {
        let (start, end) = (self.nodes[id].start, self.nodes[id].end);
        if ta < start || tb > end {
            return self.locate(self.nodes[id].parent, ta, tb, out);
        }
        if ta == start && tb == end {
            return out.push(id);
        }
        let split = match self.nodes[id].split {
            Some(split) => split,
            None => {
                let at = if ta == start { tb } else { ta };
                self.split(id, at);
                let split = self.nodes[id].split.expect("just split");
                let child = if ta == start { split.left } else { split.right };
                return self.locate(child, ta, tb, out);
            }
        };
        if tb <= split.midway {
            self.locate(split.left, ta, tb, out)
        } else if ta >= split.midway {
            self.locate(split.right, ta, tb, out)
        } else {
            self.locate(split.left, ta, split.midway, out);
            self.locate(split.right, split.midway, tb, out)
        }
    }

    /// `_split` of a halfway tree: halve, then halve the side holding `at`
    /// until a midpoint lands on it.
    fn split(&mut self, id: usize, at: f64) {
        let node = &self.nodes[id];
        self.split_exact(id, 0.5 * (node.end + node.start));
        let split = self.nodes[id].split.expect("just split");
        if at > split.midway {
            self.split(split.right, at);
        } else if at < split.midway {
            self.split(split.left, at);
        }
    }

    fn split_exact(&mut self, id: usize, midway: f64) {
        let midway = round6(midway);
        let (spawn_key, depth) = if id == 0 {
            (0, 0)
        } else {
            let node = &self.nodes[id];
            let parent = self.nodes[node.parent]
                .split
                .expect("a child's parent is split");
            (
                2 * parent.spawn_key + u128::from(!node.is_left),
                parent.depth + 1,
            )
        };
        let key: Vec<u32> = [words(spawn_key), words(depth as u128)].concat();
        let w_seed = seed_sequence(&words(self.entropy as u128), &key, POOL_SIZE, 4)[0];
        let (start, end) = (self.nodes[id].start, self.nodes[id].end);
        let left = self.nodes.len();
        self.nodes.push(Node {
            start,
            end: midway,
            parent: id,
            is_left: true,
            split: None,
        });
        self.nodes.push(Node {
            start: midway,
            end,
            parent: id,
            is_left: false,
            split: None,
        });
        self.nodes[id].split = Some(Split {
            midway,
            left,
            right: left + 1,
            w_seed,
            spawn_key,
            depth,
        });
    }

    /// A node's increment: its share of the parent's as a Brownian bridge.
    fn node_w(&mut self, id: usize) -> Vec<f32> {
        if id == 0 {
            return self.root_w.clone();
        }
        if let Some(w) = self.cache.get(&id) {
            return w.clone();
        }
        let node = &self.nodes[id];
        let (parent_id, is_left) = (node.parent, node.is_left);
        let (p_start, p_end) = (self.nodes[parent_id].start, self.nodes[parent_id].end);
        let split = self.nodes[parent_id]
            .split
            .expect("a child's parent is split");
        let parent_w = self.node_w(parent_id);
        let h_reciprocal = 1.0 / (p_end - p_start);
        let left_diff = split.midway - p_start;
        let right_diff = p_end - split.midway;
        let (ld, hr) = (left_diff as f32, h_reciprocal as f32);
        let std = (left_diff * right_diff * h_reciprocal).sqrt() as f32;
        let noise = TorchRng::manual_seed(split.w_seed as u64).randn(self.numel);
        let w: Vec<f32> = parent_w
            .iter()
            .zip(&noise)
            .map(|(pw, n)| {
                let left_w = pw * ld * hr + std * n;
                if is_left { left_w } else { pw - left_w }
            })
            .collect();
        if self.order.len() >= CACHE_SIZE
            && let Some(old) = self.order.pop_front()
        {
            self.cache.remove(&old);
        }
        self.order.push_back(id);
        self.cache.insert(id, w.clone());
        w
    }
}

/// Python's `round(x, 6)`: the double nearest the decimal rounded
/// half-to-even at six places (Rust's formatting rounds the same way).
fn round6(x: f64) -> f64 {
    format!("{x:.6}").parse().unwrap_or(x)
}

/// numpy's `_int_to_uint32_array`: little-endian 32-bit words, `[0]` for 0.
fn words(mut n: u128) -> Vec<u32> {
    let mut out = vec![(n & 0xffff_ffff) as u32];
    n >>= 32;
    while n > 0 {
        out.push((n & 0xffff_ffff) as u32);
        n >>= 32;
    }
    out
}

/// numpy's `SeedSequence(entropy, spawn_key, pool_size).generate_state(n)`.
fn seed_sequence(entropy: &[u32], spawn_key: &[u32], pool_size: usize, n_words: usize) -> Vec<u32> {
    const INIT_A: u32 = 0x43b0_d7e5;
    const MULT_A: u32 = 0x931e_8875;
    const INIT_B: u32 = 0x8b51_f9dd;
    const MULT_B: u32 = 0x58f3_8ded;
    const MIX_MULT_L: u32 = 0xca01_f9dd;
    const MIX_MULT_R: u32 = 0x4973_f715;

    let mut assembled = entropy.to_vec();
    if !spawn_key.is_empty() && assembled.len() < pool_size {
        assembled.resize(pool_size, 0);
    }
    assembled.extend_from_slice(spawn_key);

    let mut hash_const = INIT_A;
    let mut hashmix = |value: u32| {
        let mut v = value ^ hash_const;
        hash_const = hash_const.wrapping_mul(MULT_A);
        v = v.wrapping_mul(hash_const);
        v ^ (v >> 16)
    };
    let mix = |x: u32, y: u32| {
        let r = MIX_MULT_L
            .wrapping_mul(x)
            .wrapping_sub(MIX_MULT_R.wrapping_mul(y));
        r ^ (r >> 16)
    };
    let mut pool: Vec<u32> = (0..pool_size)
        .map(|i| hashmix(assembled.get(i).copied().unwrap_or(0)))
        .collect();
    for src in 0..pool_size {
        for dst in 0..pool_size {
            if src != dst {
                pool[dst] = mix(pool[dst], hashmix(pool[src]));
            }
        }
    }
    for word in assembled.iter().skip(pool_size) {
        for p in pool.iter_mut() {
            *p = mix(*p, hashmix(*word));
        }
    }
    let mut hash_const = INIT_B;
    (0..n_words)
        .map(|i| {
            let mut v = pool[i % pool_size] ^ hash_const;
            hash_const = hash_const.wrapping_mul(MULT_B);
            v = v.wrapping_mul(hash_const);
            v ^ (v >> 16)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Case {
        seed: u64,
        shape: Vec<usize>,
        sigma_min: f64,
        sigma_max: f64,
        queries: Vec<[f64; 2]>,
        values: Vec<Vec<f64>>,
    }

    #[derive(Deserialize)]
    struct Fixture {
        cases: Vec<Case>,
    }

    #[test]
    fn seed_sequence_matches_numpy() {
        // numpy 1.26: SeedSequence(42, pool_size=24).generate_state(2) and
        // SeedSequence(123456789, spawn_key=(2**33 + 1, 30), pool_size=24).
        assert_eq!(
            seed_sequence(&words(42), &[], 24, 2),
            [387_750_627, 2_536_650_517]
        );
        let key = [words((1 << 33) + 1), words(30)].concat();
        assert_eq!(
            seed_sequence(&words(123_456_789), &key, 24, 2),
            [850_140_485, 515_433_304]
        );
    }

    #[test]
    fn round6_is_pythons_round() {
        assert_eq!(round6(0.0078125), 0.007812);
        assert_eq!(round6(14.6171875), 14.617188);
        assert_eq!(round6(0.029167458), 0.029167);
    }

    #[test]
    fn matches_comfyui_brownian_tree_noise() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/reference/brownian.json"
        );
        let fixture: Fixture =
            serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json");
        assert!(!fixture.cases.is_empty());
        for case in fixture.cases {
            let shape = Shape::from(case.shape.clone());
            let mut ns = BrownianTreeNoise::new(
                &shape,
                case.sigma_min as f32,
                case.sigma_max as f32,
                case.seed,
            );
            for ([a, b], want) in case.queries.iter().zip(&case.values) {
                let got = ns
                    .sample(*a as f32, *b as f32)
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap();
                // The tree's draws and bridge arithmetic are bit-exact; the
                // final division by sqrt(|b - a|) is not, because torch takes
                // that float32 sqrt through MKL, which is off by an ulp from
                // the correctly rounded one for ~1 input in 5: 2 ulps allowed.
                for (g, w) in got.iter().zip(want) {
                    let w = *w as f32;
                    let ulp = f32::from_bits(w.abs().to_bits() + 1) - w.abs();
                    assert!(
                        (g - w).abs() <= 2.0 * ulp,
                        "seed {} query ({a}, {b}): {g} vs {w}",
                        case.seed
                    );
                }
            }
        }
    }
}
