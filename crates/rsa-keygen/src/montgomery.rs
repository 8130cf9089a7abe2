//! The two operations of the base-2 Miller-Rabin round, written out for fixed-size words:
//! Montgomery multiplication (CIOS: each word of the multiplier is multiplied in and
//! reduced in the same pass) and modular doubling. crypto-bigint's squaring (a full
//! product, then a separate reduction) took about 1.6 times as long, and the base-2 round,
//! a thousand-odd squarings, is nearly all of the key generation's time. Every loop runs a
//! fixed number of times and every choice is a mask, so the time depends on the size only.
//!
//! Words are little-endian (`[0]` least significant), as crypto-bigint's `as_words`.

/// `a · b · 2^(-64·N) mod n`, for `a, b < n`, `n` odd, and `n0_inv = -n^(-1) mod 2^64`.
pub(crate) fn multiply<const N: usize>(
    a: &[u64; N],
    b: &[u64; N],
    n: &[u64; N],
    n0_inv: u64,
) -> [u64; N] {
    // t < 2n throughout: N words and a top word of at most one bit.
    let mut t = [0u64; N];
    let mut t_top = 0u64;
    for &b_i in b {
        // t += a · b_i
        let mut carry = 0;
        for (t_j, &a_j) in t.iter_mut().zip(a) {
            (*t_j, carry) = multiply_add(a_j, b_i, *t_j, carry);
        }
        let (top, overflow) = t_top.overflowing_add(carry);
        // t = (t + m · n) / 2^64, with m chosen to make the low word zero.
        let m = t[0].wrapping_mul(n0_inv);
        let (_, mut carry) = multiply_add(m, n[0], t[0], 0);
        for j in 1..N {
            (t[j - 1], carry) = multiply_add(m, n[j], t[j], carry);
        }
        let (top, overflow_2) = top.overflowing_add(carry);
        t[N - 1] = top;
        t_top = u64::from(overflow) + u64::from(overflow_2);
    }
    subtract_if_at_least(&t, t_top, n)
}

/// `2a mod n`, for `a < n`.
pub(crate) fn double<const N: usize>(a: &[u64; N], n: &[u64; N]) -> [u64; N] {
    let mut doubled = [0u64; N];
    let mut carry = 0;
    for (d, &a_j) in doubled.iter_mut().zip(a) {
        *d = (a_j << 1) | carry;
        carry = a_j >> 63;
    }
    subtract_if_at_least(&doubled, carry, n)
}

/// `b` where `choose_b` is 1, `a` where it is 0, without a branch on it.
pub(crate) fn select<const N: usize>(a: &[u64; N], b: &[u64; N], choose_b: u64) -> [u64; N] {
    let mask = 0u64.wrapping_sub(choose_b & 1);
    let mut out = [0u64; N];
    for ((o, &a_j), &b_j) in out.iter_mut().zip(a).zip(b) {
        *o = a_j ^ (mask & (a_j ^ b_j));
    }
    out
}

/// `-n^(-1) mod 2^64` for an odd `n0`, by Newton's iteration (each step doubles the correct
/// low bits: 1, 2, 4, … 64, and `n0` is its own inverse modulo 8 to start from 3 bits).
pub(crate) fn negative_inverse(n0: u64) -> u64 {
    let mut inverse = n0;
    for _ in 0..5 {
        inverse = inverse.wrapping_mul(2u64.wrapping_sub(n0.wrapping_mul(inverse)));
    }
    inverse.wrapping_neg()
}

/// `(t_top · 2^(64N) + t) - n` if that is not negative, else `t`; for `t_top · 2^(64N) + t < 2n`.
fn subtract_if_at_least<const N: usize>(t: &[u64; N], t_top: u64, n: &[u64; N]) -> [u64; N] {
    let mut difference = [0u64; N];
    let mut borrow = 0u64;
    for ((d, &t_j), &n_j) in difference.iter_mut().zip(t).zip(n) {
        let (value, borrow_1) = t_j.overflowing_sub(n_j);
        let (value, borrow_2) = value.overflowing_sub(borrow);
        *d = value;
        borrow = u64::from(borrow_1 | borrow_2);
    }
    // Negative only when the top word cannot pay the borrow.
    let (_, negative) = t_top.overflowing_sub(borrow);
    select(&difference, t, u64::from(negative))
}

/// `a · b + c + carry` as (low word, high word); it cannot overflow 128 bits.
fn multiply_add(a: u64, b: u64, c: u64, carry: u64) -> (u64, u64) {
    let wide = u128::from(a) * u128::from(b) + u128::from(c) + u128::from(carry);
    (wide as u64, (wide >> 64) as u64)
}

#[cfg(test)]
mod tests {
    use crypto_bigint::modular::{MontyForm, MontyParams};
    use crypto_bigint::{Concat, Odd, Split, Uint};
    use rand::rngs::StdRng;
    use rand::{RngCore as _, SeedableRng as _};

    use super::*;

    fn random_words<const N: usize>(rng: &mut StdRng) -> [u64; N] {
        let mut words = [0u64; N];
        words.iter_mut().for_each(|w| *w = rng.next_u64());
        words
    }

    /// Random odd moduli of every shape: full size, the top bit clear, short, one word, all ones.
    fn moduli<const N: usize>(rng: &mut StdRng) -> Vec<[u64; N]> {
        let mut shaped = |top_shift: u32| {
            let mut n = random_words::<N>(rng);
            n[N - 1] = (n[N - 1] | 1 << 63) >> top_shift;
            n[0] |= 1;
            n
        };
        let (full, top_clear, short) = (shaped(0), shaped(1), shaped(60));
        let mut one_word = [0u64; N];
        one_word[0] = rng.next_u64() | 1;
        vec![full, top_clear, short, one_word, [u64::MAX; N]]
    }

    fn check<const N: usize, const W: usize>(seed: u64)
    where
        Uint<N>: Concat<Output = Uint<W>>,
        Uint<W>: Split<Output = Uint<N>>,
    {
        let mut rng = StdRng::seed_from_u64(seed);
        for n in moduli::<N>(&mut rng) {
            let modulus = Odd::new(Uint::<N>::from_words(n)).expect("odd");
            let params = MontyParams::new(modulus);
            let n0_inv = negative_inverse(n[0]);
            assert_eq!(
                n[0].wrapping_mul(n0_inv),
                u64::MAX,
                "n · n0_inv = -1 mod 2^64"
            );
            for _ in 0..20 {
                let a = MontyForm::new(&Uint::from_words(random_words(&mut rng)), params);
                let b = MontyForm::new(&Uint::from_words(random_words(&mut rng)), params);
                let (a_words, b_words) =
                    (*a.as_montgomery().as_words(), *b.as_montgomery().as_words());
                assert_eq!(
                    multiply(&a_words, &b_words, &n, n0_inv),
                    *a.mul(&b).as_montgomery().as_words()
                );
                assert_eq!(
                    multiply(&a_words, &a_words, &n, n0_inv),
                    *a.square().as_montgomery().as_words()
                );
                assert_eq!(double(&a_words, &n), *a.double().as_montgomery().as_words());
            }
        }
    }

    #[test]
    fn multiply_and_double_agree_with_crypto_bigint() {
        check::<16, 32>(1);
        check::<24, 48>(2);
        check::<1, 2>(3);
    }

    #[test]
    fn select_takes_the_chosen_side() {
        let (a, b) = ([1u64, 2], [3u64, 4]);
        assert_eq!(select(&a, &b, 0), a);
        assert_eq!(select(&a, &b, 1), b);
    }
}
