//! Random probable primes for RSA: a random odd start with its two top bits set, a sieved
//! window of odd numbers from there, and Miller-Rabin rounds on the survivors in order.

use crypto_bigint::{Concat, Limb, Odd, Split, Uint};
use rand::{CryptoRng, RngCore};
use zeroize::{Zeroize, Zeroizing};

use crate::miller_rabin::MillerRabin;
use crate::window::Window;

/// A random prime of exactly `Uint::<LIMBS>::BITS` bits whose two top bits are set (so that a
/// product of two has exactly twice as many bits, and `p ≥ √2 · 2^(bits - 1)` as FIPS 186-5
/// A.1.3 asks), with `p ≢ 1 (mod e)`, that passed one Miller-Rabin round with the base 2 and
/// `rounds` with random bases.
pub(crate) fn random_prime<const LIMBS: usize, const WIDE_LIMBS: usize, R>(
    rng: &mut R,
    rounds: usize,
) -> Zeroizing<Uint<LIMBS>>
where
    Uint<LIMBS>: Concat<Output = Uint<WIDE_LIMBS>>,
    Uint<WIDE_LIMBS>: Split<Output = Uint<LIMBS>>,
    R: CryptoRng + RngCore,
{
    // Twice the bit length holds about six primes on average at every size (their density
    // among odd numbers is 2 / ln 2^bits), so a window rarely comes up empty.
    let window_len = 2 * Uint::<LIMBS>::BITS as usize;
    loop {
        let start = random_start::<LIMBS, R>(rng);
        let window = Window::sieve(&start, window_len);
        for offset in window.survivors() {
            let (candidate, carry) = start.adc(&Uint::from(2 * offset as u64), Limb::ZERO);
            let candidate = Zeroizing::new(candidate);
            if carry != Limb::ZERO {
                // The window ran past the largest number of this size.
                break;
            }
            let odd = Odd::new(*candidate).expect("odd start plus an even offset is odd");
            let rounds_of = MillerRabin::new(&odd);
            if rounds_of.passes_base_two() && rounds_of.passes_random_bases(rng, rounds) {
                return candidate;
            }
        }
    }
}

/// A random odd number of `BITS` bits with its two top bits set.
fn random_start<const LIMBS: usize, R: CryptoRng + RngCore>(rng: &mut R) -> Zeroizing<Uint<LIMBS>> {
    let mut words = [0u64; LIMBS];
    for word in &mut words {
        *word = rng.next_u64();
    }
    words[0] |= 1;
    words[LIMBS - 1] |= 0b11 << 62;
    let start = Zeroizing::new(Uint::from_words(words));
    words.zeroize();
    start
}

#[cfg(test)]
mod tests {
    use crypto_bigint::U1024;
    use rand::rngs::StdRng;
    use rand::SeedableRng as _;
    use rsa::BigUint;

    use super::*;
    use crate::PUBLIC_EXPONENT;

    #[test]
    fn primes_have_their_two_top_bits_set_and_pass_an_independent_test() {
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..3 {
            let p = random_prime::<16, 32, _>(&mut rng, 5);
            assert_eq!(
                p.wrapping_shr(1022),
                U1024::from(3u32),
                "exactly 1024 bits, top two set"
            );
            let p = crate::big(&p);
            // num-bigint-dig's own test (20 Miller-Rabin rounds and a Lucas test).
            assert!(num_bigint_dig::prime::probably_prime(&p, 20));
            assert_ne!(
                &p % BigUint::from(PUBLIC_EXPONENT),
                BigUint::from(1u32),
                "p - 1 shares e"
            );
        }
    }

    #[test]
    fn distinct_draws_give_distinct_primes() {
        let mut rng = rand::rngs::OsRng;
        let p: Zeroizing<U1024> = random_prime::<16, 32, _>(&mut rng, 5);
        let q: Zeroizing<U1024> = random_prime::<16, 32, _>(&mut rng, 5);
        assert_ne!(*p, *q);
    }
}
