//! Torch's CPU random numbers, reproduced bit for bit, so that a seed gives
//! the latent noise ComfyUI gives.
//!
//! ComfyUI draws the initial latent with `torch.manual_seed(seed)` followed by
//! one `torch.randn(shape)` on the CPU, and its ancestral samplers keep
//! drawing `torch.randn(x.shape)` from one seeded generator. [`TorchRng`] is
//! that generator: torch's mt19937 (seeded with the seed's low 32 bits) and
//! its two normal kernels. A float tensor of 16 values or more is filled with
//! 24-bit uniforms and turned into normals by Box-Muller in blocks of 16 (when
//! the size is not a multiple of 16 the last 16 values are drawn again); a
//! smaller one uses the scalar double-precision Box-Muller, whose second value
//! is cached in the generator for the next draw.
//!
//! The trade-off is in the block kernel's maths. On x86-64 torch evaluates
//! log, sin and cos with the Cephes polynomials of its `avx_mathfun.h`,
//! compiled with fused multiply-adds; [`BoxMuller::Avx2`] replays those
//! operations one lane at a time, which is slower than a vectorised kernel but
//! exact. Builds of torch without AVX2 (ARM, Apple silicon) call libm's
//! `logf`/`cosf`/`sinf` instead: [`BoxMuller::Libm`] does the same through
//! Rust's `f32` methods, which is exact only where both sides use the same
//! libm (glibc with glibc), and within an ulp elsewhere.

use candle_core::{Device, Result, Tensor};

/// Which of torch's two block Box-Muller kernels to replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BoxMuller {
    /// torch on x86-64 with AVX2 (what ComfyUI runs on almost everywhere).
    #[default]
    Avx2,
    /// torch without AVX2: libm's single-precision log, cos and sin.
    Libm,
}

/// torch's CPU generator (`torch.Generator()` after `manual_seed`).
#[derive(Debug, Clone)]
pub struct TorchRng {
    mt: Mt19937,
    /// The second value of the last scalar Box-Muller pair, as torch caches it.
    next_normal: Option<f64>,
    kernel: BoxMuller,
}

impl TorchRng {
    /// `torch.manual_seed(seed)`: only the low 32 bits of the seed matter.
    pub fn manual_seed(seed: u64) -> Self {
        Self::with_kernel(seed, BoxMuller::default())
    }

    pub fn with_kernel(seed: u64, kernel: BoxMuller) -> Self {
        TorchRng {
            mt: Mt19937::new(seed as u32),
            next_normal: None,
            kernel,
        }
    }

    /// `torch.randn(numel)` as float32 values, advancing the generator.
    pub fn randn(&mut self, numel: usize) -> Vec<f32> {
        if numel < 16 {
            return (0..numel).map(|_| self.scalar_normal() as f32).collect();
        }
        let mut data: Vec<f32> = (0..numel).map(|_| self.uniform_f32()).collect();
        for block in data.chunks_exact_mut(16) {
            self.normal_block(block);
        }
        if !numel.is_multiple_of(16) {
            let tail = &mut data[numel - 16..];
            for v in tail.iter_mut() {
                *v = self.uniform_f32();
            }
            self.normal_block(tail);
        }
        data
    }

    /// `torch.randn(shape)` as a CPU f32 tensor.
    pub fn randn_tensor(&mut self, shape: &[usize]) -> Result<Tensor> {
        let numel = shape.iter().product();
        Tensor::from_vec(self.randn(numel), shape, &Device::Cpu)
    }

    /// `uniform_real_distribution<float>(0, 1)`: 24 random bits over 2^24.
    fn uniform_f32(&mut self) -> f32 {
        (self.mt.next_u32() & 0x00ff_ffff) as f32 * (1.0 / 16_777_216.0)
    }

    /// `uniform_real_distribution<double>(0, 1)`: 53 bits of `random64()`.
    fn uniform_f64(&mut self) -> f64 {
        let hi = self.mt.next_u32() as u64;
        let lo = self.mt.next_u32() as u64;
        (((hi << 32) | lo) & ((1 << 53) - 1)) as f64 * (1.0 / 9_007_199_254_740_992.0)
    }

    /// `normal_distribution<double>(0, 1)` with torch's cached second value.
    fn scalar_normal(&mut self) -> f64 {
        if let Some(cached) = self.next_normal.take() {
            return cached;
        }
        let u1 = self.uniform_f64();
        let u2 = self.uniform_f64();
        let r = (-2.0 * (-u2).ln_1p()).sqrt();
        let theta = 2.0 * std::f64::consts::PI * u1;
        self.next_normal = Some(r * theta.sin());
        r * theta.cos()
    }

    /// Box-Muller over 16 uniforms: the first 8 pair with the last 8.
    fn normal_block(&self, block: &mut [f32]) {
        for j in 0..8 {
            let u1 = 1.0 - block[j];
            let u2 = block[j + 8];
            let (radius, sin, cos) = match self.kernel {
                BoxMuller::Avx2 => {
                    let (sin, cos) = cephes::sincos(TWO_PI_F32 * u2);
                    ((-2.0 * cephes::log(u1)).sqrt(), sin, cos)
                }
                BoxMuller::Libm => {
                    let theta = (2.0 * std::f64::consts::PI * u2 as f64) as f32;
                    ((-2.0 * u1.ln()).sqrt(), theta.sin(), theta.cos())
                }
            };
            block[j] = radius * cos;
            block[j + 8] = radius * sin;
        }
    }
}

/// `2.0f * pi<double>` rounded to float, as the AVX2 kernel broadcasts it.
const TWO_PI_F32: f32 = (2.0 * std::f64::consts::PI) as f32;

/// The initial latent noise for a seed, exactly as ComfyUI's `prepare_noise`
/// draws it: one `torch.randn(shape)` after `torch.manual_seed(seed)`.
pub fn seeded_noise(seed: u64, shape: &[usize]) -> Result<Tensor> {
    TorchRng::manual_seed(seed).randn_tensor(shape)
}

/// The 32-bit Mersenne Twister exactly as `std::mt19937` and torch define it.
#[derive(Debug, Clone)]
struct Mt19937 {
    state: Box<[u32; 624]>,
    index: usize,
}

impl Mt19937 {
    fn new(seed: u32) -> Self {
        let mut state = Box::new([0u32; 624]);
        state[0] = seed;
        for i in 1..624 {
            let prev = state[i - 1];
            state[i] = 1_812_433_253u32
                .wrapping_mul(prev ^ (prev >> 30))
                .wrapping_add(i as u32);
        }
        Mt19937 { state, index: 624 }
    }

    fn next_u32(&mut self) -> u32 {
        if self.index >= 624 {
            self.twist();
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    fn twist(&mut self) {
        for i in 0..624 {
            let y = (self.state[i] & 0x8000_0000) | (self.state[(i + 1) % 624] & 0x7fff_ffff);
            let mag = if y & 1 == 1 { 0x9908_b0df } else { 0 };
            self.state[i] = self.state[(i + 397) % 624] ^ (y >> 1) ^ mag;
        }
        self.index = 0;
    }
}

/// One lane of torch's `avx_mathfun.h` (Cephes single precision), with the
/// multiply-adds that GCC fuses in torch's AVX2 build written as `mul_add`.
/// The constants keep the C source's spelling, hence the allowed lints.
#[allow(clippy::excessive_precision, clippy::approx_constant)]
mod cephes {
    // The constants as avx_mathfun.h spells them: double literals rounded to
    // float (decimal -> double -> float, as the C compiler does).
    const SQRTHF: f32 = 0.707106781186547524_f64 as f32;
    const LOG_P: [f32; 9] = [
        7.0376836292E-2_f64 as f32,
        -1.1514610310E-1_f64 as f32,
        1.1676998740E-1_f64 as f32,
        -1.2420140846E-1_f64 as f32,
        1.4249322787E-1_f64 as f32,
        -1.6668057665E-1_f64 as f32,
        2.0000714765E-1_f64 as f32,
        -2.4999993993E-1_f64 as f32,
        3.3333331174E-1_f64 as f32,
    ];
    const LOG_Q1: f32 = -2.12194440e-4_f64 as f32;
    const LOG_Q2: f32 = 0.693359375;
    const FOPI: f32 = 1.27323954473516_f64 as f32;
    const DP: [f32; 3] = [
        -0.78515625,
        -2.4187564849853515625e-4_f64 as f32,
        -3.77489497744594108e-8_f64 as f32,
    ];
    const SINCOF: [f32; 3] = [
        -1.9515295891E-4_f64 as f32,
        8.3321608736E-3_f64 as f32,
        -1.6666654611E-1_f64 as f32,
    ];
    const COSCOF: [f32; 3] = [
        2.443315711809948E-005_f64 as f32,
        -1.388731625493765E-003_f64 as f32,
        4.166664568298827E-002_f64 as f32,
    ];

    /// `log256_ps` for a positive normal input (u1 is in (0, 1]).
    pub fn log(x: f32) -> f32 {
        let x = x.max(f32::MIN_POSITIVE);
        let bits = x.to_bits();
        let mut e = ((bits >> 23) as i32 - 0x7f) as f32 + 1.0;
        let mut m = f32::from_bits((bits & !0x7f80_0000) | 0.5f32.to_bits());
        if m < SQRTHF {
            e -= 1.0;
            m = (m - 1.0) + m;
        } else {
            m -= 1.0;
        }
        let z = m * m;
        let mut y = LOG_P[0];
        for p in &LOG_P[1..] {
            y = y.mul_add(m, *p);
        }
        y *= m;
        y = y.mul_add(z, e * LOG_Q1);
        y -= z * 0.5;
        e.mul_add(LOG_Q2, m + y)
    }

    /// `sincos256_ps`: (sin x, cos x).
    pub fn sincos(x: f32) -> (f32, f32) {
        let mut sign_sin = x.is_sign_negative();
        let ax = x.abs();
        let j = (((ax * FOPI) as i32) + 1) & !1;
        let y = j as f32;
        if j & 4 != 0 {
            sign_sin = !sign_sin;
        }
        let sign_cos = (!(j - 2)) & 4 != 0;
        let r = y.mul_add(DP[2], y.mul_add(DP[1], y.mul_add(DP[0], ax)));
        let z = r * r;
        let mut c = COSCOF[0].mul_add(z, COSCOF[1]).mul_add(z, COSCOF[2]) * z;
        c = c.mul_add(z, -(z * 0.5)) + 1.0;
        let s = (SINCOF[0].mul_add(z, SINCOF[1]).mul_add(z, SINCOF[2]) * z).mul_add(r, r);
        let (sin, cos) = if j & 2 == 0 { (s, c) } else { (c, s) };
        let flip = |v: f32, neg: bool| if neg { -v } else { v };
        (flip(sin, sign_sin), flip(cos, sign_cos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Entry {
        seed: u64,
        shape: Vec<usize>,
        values: Option<Vec<f64>>,
    }

    #[derive(Deserialize)]
    struct Sequence {
        seed: u64,
        draws: Vec<usize>,
        values: Vec<f64>,
    }

    #[derive(Deserialize)]
    struct Reference {
        entries: Vec<Entry>,
        #[serde(default)]
        sequences: Vec<Sequence>,
    }

    const FIXTURE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/reference/torch_randn.json"
    );

    /// Largest distance in units in the last place between two f32 slices.
    fn max_ulps(a: &[f32], b: &[f32]) -> u32 {
        assert_eq!(a.len(), b.len());
        let key = |v: f32| {
            let i = v.to_bits() as i32;
            (if i < 0 { i32::MIN - i } else { i }) as i64
        };
        a.iter()
            .zip(b)
            .map(|(x, y)| (key(*x) - key(*y)).unsigned_abs() as u32)
            .max()
            .unwrap_or(0)
    }

    fn check(path: &str) -> usize {
        let text = std::fs::read_to_string(path).expect("reference file");
        let reference: Reference = serde_json::from_str(&text).expect("reference json");
        let mut checked = 0;
        for entry in reference.entries {
            let Some(values) = entry.values else { continue };
            let want: Vec<f32> = values.iter().map(|v| *v as f32).collect();
            let got = TorchRng::manual_seed(entry.seed).randn(entry.shape.iter().product());
            // Bit-exact: the AVX2 kernel is replayed operation by operation.
            assert_eq!(
                max_ulps(&got, &want),
                0,
                "seed {} shape {:?}",
                entry.seed,
                entry.shape
            );
            checked += 1;
        }
        checked
    }

    #[test]
    fn matches_shared_torch_reference() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/samples/torch_randn_reference.json"
        );
        if std::path::Path::new(path).exists() {
            assert!(check(path) >= 2);
        }
    }

    #[test]
    fn matches_committed_torch_fixture() {
        let n = check(FIXTURE);
        assert!(n >= 8);
    }

    #[test]
    fn one_generator_carries_state_across_draws() {
        let text = std::fs::read_to_string(FIXTURE).expect("fixture");
        let reference: Reference = serde_json::from_str(&text).expect("fixture json");
        assert!(!reference.sequences.is_empty());
        for seq in reference.sequences {
            let mut rng = TorchRng::manual_seed(seq.seed);
            let got: Vec<f32> = seq.draws.iter().flat_map(|n| rng.randn(*n)).collect();
            let want: Vec<f32> = seq.values.iter().map(|v| *v as f32).collect();
            assert_eq!(max_ulps(&got, &want), 0, "seed {}", seq.seed);
        }
    }

    #[test]
    fn seed_is_truncated_to_32_bits() {
        let a = TorchRng::manual_seed(7).randn(40);
        let b = TorchRng::manual_seed((1 << 32) + 7).randn(40);
        assert_eq!(a, b);
    }

    #[test]
    fn libm_kernel_is_within_a_few_ulps_of_avx2() {
        let a = TorchRng::with_kernel(3, BoxMuller::Avx2).randn(4096);
        let b = TorchRng::with_kernel(3, BoxMuller::Libm).randn(4096);
        // Both are ~1-ulp approximations of the same function, but near a
        // root of cos/sin a relative ulp becomes many ulps of the result.
        let close = a
            .iter()
            .zip(&b)
            .all(|(x, y)| (x - y).abs() <= 1e-5 * (1.0 + x.abs()));
        assert!(close);
    }
}
