//! The sieve over a window of odd candidates `start + 2i`: it strikes out those with a prime
//! factor below [`SIEVE_LIMIT`](crate::small_primes::SIEVE_LIMIT) and those `≡ 1 (mod e)`
//! (whose `p - 1` would share the factor `e` with it), so that only about a tenth of the
//! window reaches a Miller-Rabin round. The remainders of `start` are computed once per
//! window, then each prime strikes out its multiples by stepping through the window.

use crypto_bigint::{Limb, NonZero, Uint};

use crate::small_primes::groups;
use crate::PUBLIC_EXPONENT;

/// A window of odd candidates `start + 2i` for `i < len`, with the ones left standing.
pub(crate) struct Window {
    struck_out: Vec<bool>,
}

impl Window {
    /// Sieves the `len` odd numbers from `start` (which must be odd).
    pub(crate) fn sieve<const LIMBS: usize>(start: &Uint<LIMBS>, len: usize) -> Window {
        let mut struck_out = vec![false; len];
        for group in groups() {
            let group_remainder = start.rem_limb_with_reciprocal(&group.product).0;
            for &prime in &group.primes {
                strike(&mut struck_out, prime, group_remainder % prime, 0);
            }
        }
        let e = NonZero::new(Limb(PUBLIC_EXPONENT)).expect("e is non-zero");
        strike(&mut struck_out, PUBLIC_EXPONENT, start.rem_limb(e).0, 1);
        Window { struck_out }
    }

    /// The offsets `i` of the candidates `start + 2i` left standing, ascending.
    pub(crate) fn survivors(&self) -> impl Iterator<Item = usize> + '_ {
        self.struck_out
            .iter()
            .enumerate()
            .filter(|(_, struck)| !**struck)
            .map(|(i, _)| i)
    }
}

/// Strikes out the offsets `i` with `start + 2i ≡ target (mod prime)`, where `remainder` is
/// `start mod prime` and `prime` is odd (so 2 has the inverse `(prime + 1) / 2`).
fn strike(struck_out: &mut [bool], prime: u64, remainder: u64, target: u64) {
    let gap = (target + prime - remainder) % prime;
    let first = usize::try_from(gap * prime.div_ceil(2) % prime).expect("below a small prime");
    let step = usize::try_from(prime).expect("small primes fit a usize");
    for i in (first..struck_out.len()).step_by(step) {
        struck_out[i] = true;
    }
}

#[cfg(test)]
mod tests {
    use crypto_bigint::U1024;
    use rand::RngCore as _;

    use super::*;
    use crate::small_primes::{odd_primes_below, SIEVE_LIMIT};

    fn random_odd() -> U1024 {
        let mut bytes = [0u8; 128];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        bytes[127] |= 1;
        U1024::from_be_slice(&bytes)
    }

    fn remainder(n: &U1024, d: u64) -> u64 {
        n.rem_limb(NonZero::new(Limb(d)).expect("non-zero")).0
    }

    #[test]
    fn strikes_out_exactly_the_candidates_with_a_small_factor_or_one_mod_e() {
        let start = random_odd();
        let len = 512;
        let window = Window::sieve(&start, len);
        let primes = odd_primes_below(SIEVE_LIMIT);
        let survivors: Vec<usize> = window.survivors().collect();
        for i in 0..len {
            let candidate = start.wrapping_add(&U1024::from(2 * i as u64));
            let divisible = primes.iter().any(|p| remainder(&candidate, *p) == 0);
            let one_mod_e = remainder(&candidate, PUBLIC_EXPONENT) == 1;
            assert_eq!(
                survivors.contains(&i),
                !divisible && !one_mod_e,
                "offset {i}: divisible {divisible}, 1 mod e {one_mod_e}"
            );
        }
        // About 1.12 / ln(2^16) ≈ 10% of odd numbers have no factor below 2^16.
        assert!(
            (10..=110).contains(&survivors.len()),
            "{} survivors",
            survivors.len()
        );
    }
}
