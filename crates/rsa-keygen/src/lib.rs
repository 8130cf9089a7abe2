//! RSA key generation for PKI and transit, about five times faster than the `rsa` crate's
//! `RsaPrivateKey::new`, whose prime search (num-bigint-dig) costs ~130 ms of CPU per
//! 2048-bit key: issuing RSA certificates is key generation, and ring cannot make RSA keys.
//!
//! The primes follow FIPS 186-5 A.1.3 with two choices of our own:
//! - candidates come from an incremental search: a random odd start with its two top bits
//!   set, then the next odd numbers, sieved by every prime below 2^16 ([`window`]), as
//!   OpenSSL does; only about a tenth of the candidates reach a Miller-Rabin round, where
//!   fresh random candidates (the letter of A.1.3) would need a costly trial division each.
//!   The primes found are not quite uniform (those after long prime gaps are likelier), which
//!   costs a negligible amount of entropy (Brandt and Damgård, Crypto '92);
//! - each survivor meets one Miller-Rabin round with the base 2, which rejects nearly every
//!   composite at once, and the first that passes meets the rounds with random bases of FIPS
//!   186-5 Table B.1 for the key size (5 for 1024-bit primes, error below 2^-112; 4 for
//!   1536- and 2048-bit primes, below 2^-128 and 2^-144).
//!
//! The rounds use constant-time Montgomery arithmetic ([`miller_rabin`]); the sieve and the
//! decision to stop are variable-time, as in OpenSSL and Go. Then `|p - q| > 2^(bits/2 - 100)`,
//! and the key is built by `rsa`'s own `RsaPrivateKey::from_p_q` (e = 65537, d modulo
//! λ(n), validated, CRT values precomputed), and kept only if `d > 2^(bits/2)` (A.1.1).
//! Candidates and primes live in zeroizing wrappers; the key zeroizes itself when dropped.

mod miller_rabin;
mod montgomery;
mod prime;
mod small_primes;
mod window;

use crypto_bigint::{Concat, Split, Uint};
use rand::{CryptoRng, RngCore};
use rsa::traits::PrivateKeyParts as _;
use rsa::{BigUint, RsaPrivateKey};
use zeroize::{Zeroize, Zeroizing};

/// The public exponent of every key: 65537, as Vault's and OpenBao's.
pub(crate) const PUBLIC_EXPONENT: u64 = 65537;

/// A new RSA key of `bits` (2048, 3072 or 4096) from the OS random number generator. It takes
/// tens of milliseconds of CPU for 2048 bits and up to seconds for 4096: call it on a blocking
/// thread. Other sizes are `rsa::Error::InvalidArguments`.
pub fn generate(bits: usize) -> rsa::Result<RsaPrivateKey> {
    generate_with(&mut rand::rngs::OsRng, bits)
}

fn generate_with<R: CryptoRng + RngCore>(rng: &mut R, bits: usize) -> rsa::Result<RsaPrivateKey> {
    // Miller-Rabin rounds from FIPS 186-5 Table B.1.
    match bits {
        2048 => generate_sized::<16, 32, R>(rng, 5),
        3072 => generate_sized::<24, 48, R>(rng, 4),
        4096 => generate_sized::<32, 64, R>(rng, 4),
        _ => Err(rsa::Error::InvalidArguments),
    }
}

/// A key whose primes have `LIMBS` words each.
fn generate_sized<const LIMBS: usize, const WIDE_LIMBS: usize, R>(
    rng: &mut R,
    rounds: usize,
) -> rsa::Result<RsaPrivateKey>
where
    Uint<LIMBS>: Concat<Output = Uint<WIDE_LIMBS>>,
    Uint<WIDE_LIMBS>: Split<Output = Uint<LIMBS>>,
    R: CryptoRng + RngCore,
{
    let prime_bits = Uint::<LIMBS>::BITS as usize;
    loop {
        let p = prime::random_prime::<LIMBS, WIDE_LIMBS, R>(rng, rounds);
        let q = prime::random_prime::<LIMBS, WIDE_LIMBS, R>(rng, rounds);
        if !far_apart(&p, &q, prime_bits as u32 - 100) {
            continue;
        }
        let key = RsaPrivateKey::from_p_q(big(&p), big(&q), BigUint::from(PUBLIC_EXPONENT))?;
        if key.d().bits() > prime_bits {
            return Ok(key);
        }
    }
}

/// Whether `|p - q| > 2^min_bits` (FIPS 186-5 A.1.3 step 5.4), so that n does not fall to
/// Fermat's factoring method.
fn far_apart<const LIMBS: usize>(p: &Uint<LIMBS>, q: &Uint<LIMBS>, min_bits: u32) -> bool {
    let mut difference = if p > q {
        p.wrapping_sub(q)
    } else {
        q.wrapping_sub(p)
    };
    let far = difference.bits() > min_bits;
    difference.zeroize();
    far
}

/// The prime as the `rsa` crate's big integer.
fn big<const LIMBS: usize>(n: &Uint<LIMBS>) -> BigUint {
    let mut bytes = Zeroizing::new(Vec::with_capacity(LIMBS * 8));
    for word in n.as_words().iter().rev() {
        bytes.extend_from_slice(&word.to_be_bytes());
    }
    BigUint::from_bytes_be(&bytes)
}

#[cfg(test)]
mod tests;
