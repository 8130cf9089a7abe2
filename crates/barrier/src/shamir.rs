//! Shamir's secret sharing over GF(2^8), used to hand the root key to several operators so
//! that any `threshold` of them can unseal. Our own implementation, share-compatible with
//! Vault's: the field is GF(2^8) modulo the AES polynomial x^8 + x^4 + x^3 + x + 1, and each
//! share is the polynomial's value for every byte of the secret followed by one byte holding
//! its x coordinate (1..=255).
//!
//! Field arithmetic uses branch-free bitwise multiplication and inversion by exponentiation,
//! so the time taken does not depend on secret bytes (no table lookups indexed by secrets).

use rand::rngs::OsRng;
use rand::{Rng, RngCore};
use zeroize::Zeroizing;

use crate::BarrierError;

/// Splits `secret` into `shares` parts, any `threshold` of which rebuild it.
///
/// `1 <= threshold <= shares <= 255`; a threshold of 1 is only accepted with a single share,
/// which is then the secret itself (Vault does the same for `secret_shares = 1`).
pub fn split(
    secret: &[u8],
    shares: u8,
    threshold: u8,
) -> Result<Vec<Zeroizing<Vec<u8>>>, BarrierError> {
    if secret.is_empty() {
        return Err(invalid("cannot split an empty secret"));
    }
    if shares == 0 || threshold == 0 {
        return Err(invalid("shares and threshold must be at least 1"));
    }
    if threshold > shares {
        return Err(invalid("threshold cannot exceed the number of shares"));
    }
    if threshold == 1 {
        if shares == 1 {
            return Ok(vec![Zeroizing::new(secret.to_vec())]);
        }
        // Every share would be the secret itself, which defeats the purpose of sharing.
        return Err(invalid(
            "threshold must be at least 2 when there are several shares",
        ));
    }

    let xs = distinct_x_coordinates(shares);
    let mut out: Vec<Zeroizing<Vec<u8>>> = xs
        .iter()
        .map(|_| Zeroizing::new(Vec::with_capacity(secret.len() + 1)))
        .collect();
    // One polynomial per secret byte: the constant term is the byte, the others are random.
    let mut coefficients = Zeroizing::new(vec![0u8; usize::from(threshold)]);
    for &byte in secret {
        coefficients[0] = byte;
        OsRng.fill_bytes(&mut coefficients[1..]);
        for (share, &x) in out.iter_mut().zip(&xs) {
            share.push(evaluate(&coefficients, x));
        }
    }
    for (share, &x) in out.iter_mut().zip(&xs) {
        share.push(x);
    }
    Ok(out)
}

/// Rebuilds the secret from at least `threshold` parts made by [`split`].
///
/// A single part is returned as it is (the `shares = 1` case). With fewer parts than the
/// threshold the result is a wrong value, not an error: shares carry no threshold, so only
/// the caller (who knows what the secret decrypts) can tell.
pub fn combine(parts: &[&[u8]]) -> Result<Zeroizing<Vec<u8>>, BarrierError> {
    match parts {
        [] => return Err(invalid("no key shares given")),
        [only] => {
            if only.is_empty() {
                return Err(invalid("empty key share"));
            }
            return Ok(Zeroizing::new(only.to_vec()));
        }
        _ => {}
    }
    if parts.len() > 255 {
        return Err(invalid("more than 255 key shares given"));
    }
    let len = parts[0].len();
    if len < 2 {
        return Err(invalid("key share too short"));
    }
    if parts.iter().any(|p| p.len() != len) {
        return Err(invalid("key shares have different lengths"));
    }
    let xs: Vec<u8> = parts.iter().map(|p| p[len - 1]).collect();
    if xs.contains(&0) {
        return Err(invalid("key share has x coordinate 0"));
    }
    for (i, x) in xs.iter().enumerate() {
        if xs[..i].contains(x) {
            return Err(invalid("duplicate key share"));
        }
    }

    // Lagrange basis polynomials evaluated at x = 0. In GF(2^8) subtraction is XOR, so
    // l_i(0) = prod_{j != i} x_j / (x_j ^ x_i); they depend only on the x coordinates.
    let basis: Vec<u8> = xs
        .iter()
        .enumerate()
        .map(|(i, &xi)| {
            xs.iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .fold(1u8, |acc, (_, &xj)| mul(acc, mul(xj, inverse(xj ^ xi))))
        })
        .collect();

    let mut secret = Zeroizing::new(vec![0u8; len - 1]);
    for (part, &l) in parts.iter().zip(&basis) {
        for (out, &y) in secret.iter_mut().zip(&part[..len - 1]) {
            *out ^= mul(y, l);
        }
    }
    Ok(secret)
}

fn invalid(message: &str) -> BarrierError {
    BarrierError::InvalidShares(message.to_string())
}

/// `n` distinct x coordinates from 1..=255 in random order (a partial Fisher-Yates shuffle).
fn distinct_x_coordinates(n: u8) -> Vec<u8> {
    let mut pool: Vec<u8> = (1..=255).collect();
    for i in 0..usize::from(n) {
        let j = OsRng.gen_range(i..pool.len());
        pool.swap(i, j);
    }
    pool.truncate(usize::from(n));
    pool
}

/// The polynomial with these coefficients (constant term first) at `x`, by Horner's rule.
fn evaluate(coefficients: &[u8], x: u8) -> u8 {
    coefficients
        .iter()
        .rev()
        .fold(0u8, |acc, &c| mul(acc, x) ^ c)
}

/// Multiplication in GF(2^8) modulo 0x11b, without data-dependent branches or lookups.
fn mul(mut a: u8, mut b: u8) -> u8 {
    let mut product = 0u8;
    for _ in 0..8 {
        // `mask` is 0xff when the low bit of b is set, else 0.
        let mask = (b & 1).wrapping_neg();
        product ^= a & mask;
        let carry = (a >> 7).wrapping_neg();
        a = (a << 1) ^ (0x1b & carry);
        b >>= 1;
    }
    product
}

/// The multiplicative inverse, as a^254 (a^255 = 1 for a != 0); 0 maps to 0. The exponent
/// is public, so the square-and-multiply steps are the same for every input.
fn inverse(a: u8) -> u8 {
    let mut result = 1u8;
    let mut power = a;
    let mut exponent = 254u8;
    while exponent > 0 {
        if exponent & 1 == 1 {
            result = mul(result, power);
        }
        power = mul(power, power);
        exponent >>= 1;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random_secret(len: usize) -> Vec<u8> {
        secrethub_common::random_bytes(len)
    }

    fn refs(parts: &[Zeroizing<Vec<u8>>]) -> Vec<&[u8]> {
        parts.iter().map(|p| p.as_slice()).collect()
    }

    #[test]
    fn field_arithmetic() {
        // Known AES-field values: {57} x {83} = {c1}, {53} x {ca} = {01}.
        assert_eq!(mul(0x57, 0x83), 0xc1);
        assert_eq!(mul(0x53, 0xca), 0x01);
        assert_eq!(inverse(0), 0);
        for a in 1..=255u8 {
            assert_eq!(mul(a, inverse(a)), 1, "inverse of {a}");
            assert_eq!(mul(a, 1), a);
            assert_eq!(mul(a, 0), 0);
        }
    }

    #[test]
    fn share_layout() {
        let secret = random_secret(32);
        let parts = split(&secret, 5, 3).expect("split");
        assert_eq!(parts.len(), 5);
        let mut xs: Vec<u8> = parts.iter().map(|p| p[32]).collect();
        assert!(parts.iter().all(|p| p.len() == 33));
        assert!(!xs.contains(&0));
        xs.sort_unstable();
        xs.dedup();
        assert_eq!(xs.len(), 5, "x coordinates are distinct");
        assert!(parts.iter().all(|p| p[..32] != secret[..]));
    }

    #[test]
    fn every_threshold_subset_reconstructs() {
        let secret = random_secret(32);
        let parts = split(&secret, 5, 3).expect("split");
        // All 2^5 subsets: those with at least 3 members rebuild the secret, smaller ones don't.
        for mask in 1u32..32 {
            let subset: Vec<&[u8]> = (0..5)
                .filter(|i| mask & (1 << i) != 0)
                .map(|i| parts[i].as_slice())
                .collect();
            let got = combine(&subset).expect("combine");
            if subset.len() >= 3 {
                assert_eq!(got.as_slice(), &secret[..], "subset {mask:05b}");
            } else {
                assert_ne!(got.as_slice(), &secret[..], "subset {mask:05b}");
            }
        }
    }

    #[test]
    fn property_random_parameters() {
        for round in 0..200usize {
            let len = 1 + round % 40;
            let secret = random_secret(len);
            let shares = 2 + (round % 12) as u8;
            let threshold = 2 + (round % usize::from(shares - 1)) as u8;
            let parts = split(&secret, shares, threshold).expect("split");
            assert_eq!(parts.len(), usize::from(shares));
            // A rotating window of exactly `threshold` parts, in a shuffled order.
            let start = round % usize::from(shares);
            let mut chosen: Vec<&[u8]> = (0..usize::from(threshold))
                .map(|k| parts[(start + k) % usize::from(shares)].as_slice())
                .collect();
            chosen.reverse();
            assert_eq!(combine(&chosen).expect("combine").as_slice(), &secret[..]);
            // All parts work too; one fewer than the threshold does not.
            assert_eq!(combine(&refs(&parts)).expect("all").as_slice(), &secret[..]);
            if threshold > 2 && len >= 8 {
                let short = &chosen[..usize::from(threshold) - 1];
                assert_ne!(combine(short).expect("short").as_slice(), &secret[..]);
            }
        }
    }

    #[test]
    fn extreme_parameters() {
        let secret = random_secret(16);
        let parts = split(&secret, 255, 255).expect("255 of 255");
        assert_eq!(
            combine(&refs(&parts)).expect("combine").as_slice(),
            &secret[..]
        );
        let parts = split(&secret, 255, 2).expect("2 of 255");
        assert_eq!(
            combine(&[&parts[254][..], &parts[17][..]])
                .expect("combine")
                .as_slice(),
            &secret[..]
        );
    }

    #[test]
    fn single_share_is_the_secret() {
        let secret = random_secret(32);
        let parts = split(&secret, 1, 1).expect("1 of 1");
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].as_slice(), &secret[..]);
        assert_eq!(
            combine(&refs(&parts)).expect("combine").as_slice(),
            &secret[..]
        );
    }

    #[test]
    fn rejects_bad_parameters() {
        let s = [1u8; 4];
        for (shares, threshold) in [(0, 0), (3, 0), (0, 1), (2, 3), (5, 1), (1, 2)] {
            assert!(
                matches!(
                    split(&s, shares, threshold),
                    Err(BarrierError::InvalidShares(_))
                ),
                "{shares}/{threshold} must be rejected"
            );
        }
        assert!(split(&[], 3, 2).is_err(), "empty secret");
    }

    #[test]
    fn rejects_bad_parts() {
        let secret = random_secret(8);
        let parts = split(&secret, 3, 2).expect("split");
        let err = |r: Result<Zeroizing<Vec<u8>>, BarrierError>| {
            matches!(r, Err(BarrierError::InvalidShares(_)))
        };
        assert!(err(combine(&[])));
        assert!(err(combine(&[&[][..]])));
        assert!(err(combine(&[&parts[0][..], &parts[0][..]])), "duplicate");
        assert!(err(combine(&[&parts[0][..], &parts[1][..7]])), "lengths");
        assert!(err(combine(&[&[1u8][..], &[2u8][..]])), "too short");
        let mut zero_x = parts[1].to_vec();
        zero_x[8] = 0;
        assert!(err(combine(&[&parts[0][..], &zero_x[..]])), "x = 0");
    }

    #[test]
    fn errors_do_not_contain_share_bytes() {
        let parts = split(&[0xab; 8], 3, 2).expect("split");
        let e = combine(&[&parts[0][..], &parts[0][..]]).expect_err("duplicate");
        assert_eq!(e.to_string(), "invalid key shares: duplicate key share");
    }
}
