//! The Miller-Rabin probable-prime test (FIPS 186-5 B.3.1) on fixed-size integers, with
//! constant-time Montgomery arithmetic (crypto-bigint's, and ours for the base-2 round): the
//! time a round takes depends on the size of the candidate and on how many squarings it needs
//! before it decides, never on the bits of the candidate or the base.

use crypto_bigint::modular::{MontyForm, MontyParams};
use crypto_bigint::{Concat, Odd, Split, Uint};
use rand::{CryptoRng, RngCore};
use zeroize::Zeroize;

use crate::montgomery;

/// A candidate `w` ready for rounds: `w - 1 = 2^a · m` with `m` odd, and its Montgomery form.
pub(crate) struct MillerRabin<const LIMBS: usize> {
    candidate: Uint<LIMBS>,
    params: MontyParams<LIMBS>,
    m: Uint<LIMBS>,
    a: u32,
}

impl<const LIMBS: usize> MillerRabin<LIMBS> {
    /// Prepares the rounds for an odd `candidate` greater than 3.
    ///
    /// The bounds are crypto-bigint's for its constant-time Montgomery set-up, which works on
    /// integers twice the candidate's size.
    pub(crate) fn new<const WIDE_LIMBS: usize>(candidate: &Odd<Uint<LIMBS>>) -> Self
    where
        Uint<LIMBS>: Concat<Output = Uint<WIDE_LIMBS>>,
        Uint<WIDE_LIMBS>: Split<Output = Uint<LIMBS>>,
    {
        let w_minus_one = candidate.get().wrapping_sub(&Uint::ONE);
        let a = w_minus_one.trailing_zeros();
        MillerRabin {
            candidate: candidate.get(),
            params: MontyParams::new(*candidate),
            m: w_minus_one.wrapping_shr(a),
            a,
        }
    }

    /// One round with `base` (in `[2, w - 2]`): false when it proves the candidate composite.
    pub(crate) fn passes(&self, base: &Uint<LIMBS>) -> bool {
        self.passes_from(MontyForm::new(base, self.params).pow(&self.m))
    }

    /// One round with the base 2, the first filter of every sieved candidate. `2^m` is
    /// computed by squaring and doubling (a doubling is a modular addition, far cheaper than
    /// the multiplication by the base a general exponentiation does), with our own
    /// Montgomery multiplication ([`montgomery`]).
    pub(crate) fn passes_base_two(&self) -> bool {
        let n = self.candidate.as_words();
        let n0_inv = montgomery::negative_inverse(n[0]);
        let m = self.m.as_words();
        let mut z = *MontyForm::one(self.params).as_montgomery().as_words();
        for i in (0..LIMBS * 64).rev() {
            z = montgomery::multiply(&z, &z, n, n0_inv);
            // Both ways for every bit, then a choice by mask: the time does not depend on m.
            let mut doubled = montgomery::double(&z, n);
            z = montgomery::select(&z, &doubled, m[i / 64] >> (i % 64));
            doubled.zeroize();
        }
        let power = MontyForm::from_montgomery(Uint::from_words(z), self.params);
        z.zeroize();
        self.passes_from(power)
    }

    /// The rest of a round once `z = base^m`: the candidate passes when `z = ±1`, or when
    /// squaring it reaches `-1` within `a - 1` squarings.
    fn passes_from(&self, mut z: MontyForm<LIMBS>) -> bool {
        let one = MontyForm::one(self.params);
        let minus_one = one.neg();
        let mut passes = z == one || z == minus_one;
        let mut j = 1;
        while !passes && j < self.a {
            z = z.square();
            if z == one {
                // A square root of 1 other than ±1: composite.
                break;
            }
            passes = z == minus_one;
            j += 1;
        }
        z.zeroize();
        passes
    }

    /// `rounds` rounds with bases drawn uniformly from `[2, w - 2]`.
    pub(crate) fn passes_random_bases<R: CryptoRng + RngCore>(
        &self,
        rng: &mut R,
        rounds: usize,
    ) -> bool {
        (0..rounds).all(|_| {
            let mut base = self.random_base(rng);
            let passes = self.passes(&base);
            base.zeroize();
            passes
        })
    }

    /// A base uniform in `[2, w - 2]`: random numbers of the candidate's bit length, redrawn
    /// until one falls in the range (FIPS 186-5 B.3.1 step 4.1).
    fn random_base<R: CryptoRng + RngCore>(&self, rng: &mut R) -> Uint<LIMBS> {
        let two = Uint::from(2u32);
        let highest = self.candidate.wrapping_sub(&two);
        let unused_bits = Uint::<LIMBS>::BITS - self.candidate.bits();
        loop {
            let mut words = [0u64; LIMBS];
            for word in &mut words {
                *word = rng.next_u64();
            }
            let base = Uint::from_words(words).wrapping_shr(unused_bits);
            words.zeroize();
            if base >= two && base <= highest {
                return base;
            }
        }
    }
}

impl<const LIMBS: usize> Drop for MillerRabin<LIMBS> {
    fn drop(&mut self) {
        self.candidate.zeroize();
        self.params.zeroize();
        self.m.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use crypto_bigint::U1024;
    use rand::rngs::StdRng;
    use rand::SeedableRng as _;

    use super::*;

    fn rounds_for(n: u64) -> MillerRabin<16> {
        MillerRabin::new::<32>(&Odd::new(U1024::from(n)).expect("odd"))
    }

    #[test]
    fn primes_pass_every_base() {
        for p in [
            5u64,
            7,
            65537,
            2_147_483_647,
            1_000_000_007,
            18_446_744_073_709_551_557,
        ] {
            let mr = rounds_for(p);
            for base in [2u64, 3, 4] {
                assert!(mr.passes(&U1024::from(base)), "{p} base {base}");
            }
            assert!(
                mr.passes_random_bases(&mut StdRng::seed_from_u64(p), 20),
                "{p}"
            );
        }
    }

    #[test]
    fn carmichael_numbers_fail() {
        // Fermat liars for every coprime base; Miller-Rabin with the base 2 still catches them.
        for n in [
            561u64,
            1105,
            1729,
            2465,
            2821,
            6601,
            8911,
            41041,
            825_265,
            321_197_185,
        ] {
            let mr = rounds_for(n);
            assert!(!mr.passes_base_two(), "{n}");
            assert!(
                !mr.passes_random_bases(&mut StdRng::seed_from_u64(n), 30),
                "{n}"
            );
        }
    }

    #[test]
    fn strong_pseudoprimes_to_two_pass_base_two_and_fail_random_bases() {
        // Composites that the base 2 cannot tell from primes: the random-base rounds must.
        for n in [
            2047u64, 3277, 4033, 4681, 8321, 15841, 29341, 42799, 49141, 52633,
        ] {
            let mr = rounds_for(n);
            assert!(mr.passes_base_two(), "{n} is a strong pseudoprime to 2");
            assert!(!mr.passes(&U1024::from(3u32)), "{n} base 3");
            assert!(
                !mr.passes_random_bases(&mut StdRng::seed_from_u64(n), 30),
                "{n}"
            );
        }
        // The least strong pseudoprime to every prime base up to 31 (OEIS A014233), not to 37.
        let mr = rounds_for(3_825_123_056_546_413_051);
        for base in [2u64, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31] {
            assert!(mr.passes(&U1024::from(base)), "base {base}");
        }
        assert!(!mr.passes(&U1024::from(37u32)));
        assert!(!mr.passes_random_bases(&mut StdRng::seed_from_u64(1), 30));
    }
}
