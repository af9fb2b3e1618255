//! Seeded, reproducible test inputs, already rounded to the dtype they will be stored in.
//!
//! Values are drawn **uniform in [−1, 1)** (then scaled and rounded; rounding can land a value
//! on exactly ±1). Uniform rather than normal keeps every input bounded, so sums and FFTs of a
//! given size have a known worst case, and no rare large draw dominates a test's error.
//!
//! The stream is ChaCha8 (`rand_chacha 0.3`) seeded with `seed_from_u64`, and each value uses
//! rand 0.8's 53-bit `[0, 1)` draw, so a seed names the same inputs on every machine. Tests pick
//! their seed with [`seed_from_env`] and print it, so a failure can be replayed with
//! `FLASHFFTCONV_SEED=<seed>`.

use crate::dtype::round_to;
use crate::DType;
use rand::{Rng as _, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::atomic::{AtomicU64, Ordering};

/// Environment variable read by [`seed_from_env`].
pub const SEED_ENV: &str = "FLASHFFTCONV_SEED";

/// A seeded random source of test inputs.
#[derive(Clone, Debug)]
pub struct Rng {
    inner: ChaCha8Rng,
}

impl Rng {
    /// The stream named by `seed`.
    pub fn new(seed: u64) -> Self {
        Rng { inner: ChaCha8Rng::seed_from_u64(seed) }
    }

    /// One value uniform in `[−1, 1)`, a multiple of 2⁻⁵², not rounded to any dtype.
    pub fn uniform(&mut self) -> f64 {
        2.0 * self.inner.gen::<f64>() - 1.0
    }

    /// A uniform index in `[0, n)`; 0 when `n` is 0.
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            self.inner.gen_range(0..n)
        }
    }

    /// `n` values uniform in `[−1, 1)`, each rounded to `dtype`.
    pub fn unit(&mut self, n: usize, dtype: DType) -> Vec<f64> {
        self.scaled(n, dtype, 1.0)
    }

    /// `n` values uniform in `[−scale, scale)`, each rounded to `dtype` (after scaling).
    pub fn scaled(&mut self, n: usize, dtype: DType, scale: f64) -> Vec<f64> {
        (0..n).map(|_| round_to(dtype, scale * self.uniform())).collect()
    }

    /// A decaying kernel of `n` taps for FFT-conv tests: `k[i] = v_i · exp(−rate · i)` with `v_i`
    /// uniform in `[−1, 1)`, each rounded to `dtype` (tail values below the dtype's smallest
    /// subnormal become 0). `rate = 0` gives [`Rng::unit`].
    pub fn decaying(&mut self, n: usize, dtype: DType, rate: f64) -> Vec<f64> {
        (0..n).map(|i| round_to(dtype, self.uniform() * (-rate * i as f64).exp())).collect()
    }
}

/// The seed for this test run: `FLASHFFTCONV_SEED` when set (decimal, or hex with a `0x`
/// prefix), otherwise a fresh seed from the system time, the process id and a per-process
/// counter (so two calls never return the same fresh seed). Callers print the seed they use.
///
/// # Panics
///
/// When `FLASHFFTCONV_SEED` is set but is not a `u64`: silently ignoring a mistyped seed would
/// run a different test than the one asked for.
pub fn seed_from_env() -> u64 {
    match std::env::var(SEED_ENV) {
        Ok(text) => parse_seed(&text)
            .unwrap_or_else(|| panic!("{SEED_ENV}={text:?} is not a u64 (decimal, or hex with a 0x prefix)")),
        Err(_) => fresh_seed(),
    }
}

/// Parses a decimal or `0x`-prefixed hexadecimal `u64`, ignoring surrounding whitespace.
fn parse_seed(text: &str) -> Option<u64> {
    let text = text.trim();
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// A seed that differs between runs and between calls.
fn fresh_seed() -> u64 {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id() as u64;
    mix(nanos ^ mix(pid.rotate_left(32) ^ call))
}

/// SplitMix64 finaliser: spreads every input bit over the output.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reproducible() {
        let a = Rng::new(7).unit(100, DType::F16);
        let b = Rng::new(7).unit(100, DType::F16);
        let c = Rng::new(8).unit(100, DType::F16);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn unit_is_rounded_and_in_range() {
        let mut rng = Rng::new(1);
        for dtype in DType::ALL {
            let xs = rng.unit(1000, dtype);
            assert!(xs.iter().all(|&x| (-1.0..=1.0).contains(&x)));
            assert!(xs.iter().all(|&x| round_to(dtype, x) == x));
            let mean = xs.iter().sum::<f64>() / xs.len() as f64;
            let mean_sq = xs.iter().map(|x| x * x).sum::<f64>() / xs.len() as f64;
            assert!(mean.abs() < 0.1, "{mean}");
            assert!((mean_sq - 1.0 / 3.0).abs() < 0.05, "{mean_sq}");
            assert!(xs.iter().any(|&x| x < -0.9) && xs.iter().any(|&x| x > 0.9));
        }
    }

    #[test]
    fn scaled_and_decaying() {
        let mut rng = Rng::new(2);
        let xs = rng.scaled(500, DType::BF16, 1e-3);
        assert!(xs.iter().all(|&x| x.abs() <= 1e-3 * (1.0 + 2f64.powi(-8))));
        assert!(xs.iter().any(|&x| x.abs() > 5e-4));
        let k = rng.decaying(200, DType::F32, 0.05);
        for (i, &v) in k.iter().enumerate() {
            assert!(v.abs() <= (-0.05 * i as f64).exp() * (1.0 + 2f64.powi(-24)));
            assert_eq!(round_to(DType::F32, v), v);
        }
        assert!(k[150..].iter().all(|v| v.abs() < 1e-3));
        // Deep tail of an f16 kernel underflows to exactly 0.
        let k16 = rng.decaying(400, DType::F16, 0.1);
        assert!(k16[300..].iter().all(|&v| v == 0.0));
        assert_eq!(Rng::new(3).decaying(50, DType::F16, 0.0), Rng::new(3).unit(50, DType::F16));
    }

    #[test]
    fn below_in_range() {
        let mut rng = Rng::new(4);
        assert_eq!(rng.below(0), 0);
        assert!((0..100).all(|_| rng.below(5) < 5));
    }

    #[test]
    fn seeds() {
        assert_eq!(parse_seed("42"), Some(42));
        assert_eq!(parse_seed(" 0x2A\n"), Some(42));
        assert_eq!(parse_seed("0XfF"), Some(255));
        assert_eq!(parse_seed("18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_seed("18446744073709551616"), None);
        assert_eq!(parse_seed("-1"), None);
        assert_eq!(parse_seed("seed"), None);
        assert_eq!(parse_seed(""), None);
        assert_ne!(fresh_seed(), fresh_seed());
        // Whatever the environment says, seed_from_env returns (tests don't set it).
        if std::env::var(SEED_ENV).is_err() {
            assert_ne!(seed_from_env(), seed_from_env());
        }
    }
}
