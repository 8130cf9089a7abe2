//! The odd primes below [`SIEVE_LIMIT`] that the candidate sieve ([`crate::window`]) strikes
//! out multiples of, grouped so that one division of a big candidate by a group's product
//! (a machine word) yields the remainders by all the group's primes.

use std::sync::LazyLock;

use crypto_bigint::{Limb, NonZero, Reciprocal};

/// Primes below this bound divide the candidates the sieve removes before any Miller-Rabin
/// round. Higher bounds remove more candidates (the share left is about 1.12 / ln(bound)) but
/// cost more per window; 2^16 left about a tenth of the odd candidates and cost a small
/// fraction of one Miller-Rabin round per window when measured.
pub(crate) const SIEVE_LIMIT: u64 = 1 << 16;

/// Odd primes whose product fits in a machine word, with that product's reciprocal.
pub(crate) struct PrimeGroup {
    pub(crate) product: Reciprocal,
    pub(crate) primes: Vec<u64>,
}

/// All odd primes below [`SIEVE_LIMIT`], in groups, ascending.
pub(crate) fn groups() -> &'static [PrimeGroup] {
    static GROUPS: LazyLock<Vec<PrimeGroup>> =
        LazyLock::new(|| group(&odd_primes_below(SIEVE_LIMIT)));
    &GROUPS
}

/// The odd primes below `limit` (sieve of Eratosthenes).
pub(crate) fn odd_primes_below(limit: u64) -> Vec<u64> {
    let limit = usize::try_from(limit).expect("the sieve limit fits in memory");
    let mut composite = vec![false; limit];
    let mut primes = Vec::new();
    for n in (3..limit).step_by(2) {
        if composite[n] {
            continue;
        }
        primes.push(n as u64);
        for odd_multiple in (n * n..limit).step_by(2 * n) {
            composite[odd_multiple] = true;
        }
    }
    primes
}

fn group(primes: &[u64]) -> Vec<PrimeGroup> {
    let mut groups = Vec::new();
    let mut members = Vec::new();
    let mut product: u64 = 1;
    for &prime in primes {
        match product.checked_mul(prime) {
            Some(next) => product = next,
            None => {
                groups.push(prime_group(product, std::mem::take(&mut members)));
                product = prime;
            }
        }
        members.push(prime);
    }
    if !members.is_empty() {
        groups.push(prime_group(product, members));
    }
    groups
}

fn prime_group(product: u64, primes: Vec<u64>) -> PrimeGroup {
    // A product of primes is never zero.
    let product = NonZero::new(Limb(product)).expect("a product of primes is non-zero");
    PrimeGroup {
        product: Reciprocal::new(product),
        primes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_odd_primes_are_the_known_ones() {
        assert_eq!(
            odd_primes_below(60),
            [3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59]
        );
        // π(2^16) = 6542, less the prime 2.
        assert_eq!(odd_primes_below(1 << 16).len(), 6541);
    }

    #[test]
    fn groups_hold_every_prime_once_and_their_products_fit_a_word() {
        let flat: Vec<u64> = groups().iter().flat_map(|g| g.primes.clone()).collect();
        assert_eq!(flat, odd_primes_below(SIEVE_LIMIT));
        for g in groups() {
            let product = g.primes.iter().try_fold(1u64, |acc, p| acc.checked_mul(*p));
            assert!(product.is_some(), "group {:?} overflows a word", g.primes);
        }
    }
}
