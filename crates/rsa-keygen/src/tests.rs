//! Keys of every supported size: valid, of the right size, usable, and with FIPS's distances.

use rand::rngs::StdRng;
use rand::SeedableRng as _;
use rsa::traits::{PrivateKeyParts as _, PublicKeyParts as _};
use rsa::{BigUint, Pkcs1v15Sign, RsaPrivateKey, RsaPublicKey};

use super::*;

fn check_key(key: &RsaPrivateKey, bits: usize) {
    key.validate().expect("the key validates");
    assert_eq!(key.n().bits(), bits);
    assert_eq!(key.e(), &BigUint::from(PUBLIC_EXPONENT));
    let [p, q] = key.primes() else {
        panic!("two primes")
    };
    assert_eq!(p.bits(), bits / 2);
    assert_eq!(q.bits(), bits / 2);
    let distance = if p > q { p - q } else { q - p };
    assert!(distance.bits() > bits / 2 - 100);
    assert!(key.d().bits() > bits / 2);
    // num-bigint-dig's own primality test (20 Miller-Rabin rounds and a Lucas test).
    assert!(num_bigint_dig::prime::probably_prime(p, 20));
    assert!(num_bigint_dig::prime::probably_prime(q, 20));

    let digest = [0x5au8; 32];
    let signature = key
        .sign(Pkcs1v15Sign::new_unprefixed(), &digest)
        .expect("signs");
    RsaPublicKey::from(key)
        .verify(Pkcs1v15Sign::new_unprefixed(), &digest, &signature)
        .expect("the signature verifies");
}

#[test]
fn generates_valid_2048_bit_keys() {
    for _ in 0..3 {
        check_key(&generate(2048).expect("a key"), 2048);
    }
}

#[test]
fn generates_valid_3072_and_4096_bit_keys() {
    // A seeded generator: the larger sizes are slow enough in debug builds that one of each
    // must do, and a fixed seed keeps the run time steady.
    let mut rng = StdRng::seed_from_u64(4096);
    check_key(&generate_with(&mut rng, 3072).expect("a key"), 3072);
    check_key(&generate_with(&mut rng, 4096).expect("a key"), 4096);
}

#[test]
fn refuses_other_sizes() {
    for bits in [0, 1024, 2047, 8192] {
        assert!(
            matches!(generate(bits), Err(rsa::Error::InvalidArguments)),
            "{bits}"
        );
    }
}

#[test]
fn primes_closer_than_the_fips_distance_are_refused() {
    let p = crypto_bigint::U1024::MAX;
    let near = p.wrapping_sub(&crypto_bigint::U1024::ONE.wrapping_shl(923));
    let far = p.wrapping_sub(&crypto_bigint::U1024::ONE.wrapping_shl(925));
    assert!(!far_apart(&p, &near, 924));
    assert!(far_apart(&p, &far, 924));
    assert!(far_apart(&far, &p, 924));
}

#[test]
fn the_known_1024_bit_prime_of_rfc_2409_converts_exactly() {
    // Oakley group 2's prime, 2^1024 - 2^960 - 1 + 2^64 · (⌊2^894 π⌋ + 129093).
    let hex = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF";
    let n = crypto_bigint::U1024::from_be_hex(hex);
    assert_eq!(
        big(&n),
        BigUint::parse_bytes(hex.as_bytes(), 16).expect("hex")
    );
    assert!(num_bigint_dig::prime::probably_prime(&big(&n), 20));
    let rounds = miller_rabin::MillerRabin::new::<32>(&crypto_bigint::Odd::new(n).expect("odd"));
    assert!(rounds.passes_base_two());
    assert!(rounds.passes_random_bases(&mut StdRng::seed_from_u64(2409), 5));
}
