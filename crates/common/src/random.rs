//! Randomness from the OS RNG only: tokens, passwords, identifiers.
//!
//! Small draws (a request id, a nonce, a token) come from a per-thread buffer that the OS
//! RNG fills 512 bytes at a time: every byte is still the kernel's, but a request no longer
//! pays one `getrandom` system call per draw (the kernel's per-call set-up was a tenth of a
//! transit encrypt's CPU). A byte is handed out once and wiped from the buffer as it
//! leaves; draws larger than half the buffer go straight to the OS RNG. Nothing here forks
//! after drawing (a child process execs at once), so two processes never share a buffer.

use std::cell::RefCell;

use rand::rngs::OsRng;
use rand::{Rng, RngCore};
use zeroize::Zeroize;

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Bytes the OS RNG gives a thread at once.
const POOL_LEN: usize = 512;

/// A thread's bytes from the OS RNG not yet handed out: `bytes[next..]`.
struct Pool {
    bytes: [u8; POOL_LEN],
    next: usize,
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

thread_local! {
    static POOL: RefCell<Pool> = const {
        RefCell::new(Pool { bytes: [0; POOL_LEN], next: POOL_LEN })
    };
}

/// Fills `dest` with bytes from the OS RNG (through this thread's pool when small).
pub fn fill_random(dest: &mut [u8]) {
    if dest.len() > POOL_LEN / 2 {
        OsRng.fill_bytes(dest);
        return;
    }
    POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        let mut written = 0;
        while written < dest.len() {
            if pool.next == POOL_LEN {
                OsRng.fill_bytes(&mut pool.bytes);
                pool.next = 0;
            }
            let start = pool.next;
            let take = (dest.len() - written).min(POOL_LEN - start);
            dest[written..written + take].copy_from_slice(&pool.bytes[start..start + take]);
            pool.bytes[start..start + take].zeroize();
            pool.next += take;
            written += take;
        }
    });
}

/// The OS RNG through this thread's pool, for `rand`'s helpers (`gen_range`).
struct PooledOsRng;

impl RngCore for PooledOsRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        fill_random(&mut b);
        u32::from_le_bytes(b)
    }

    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        fill_random(&mut b);
        u64::from_le_bytes(b)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        fill_random(dest);
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand::Error> {
        fill_random(dest);
        Ok(())
    }
}

/// `n` bytes from the operating system's RNG.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    fill_random(&mut buf);
    buf
}

/// `n` characters drawn uniformly from `[A-Za-z0-9]` with the OS RNG.
pub fn random_alnum(n: usize) -> String {
    random_from(ALNUM, n)
}

/// `n` characters drawn uniformly from `alphabet` (ASCII) with the OS RNG; empty when the
/// alphabet is.
///
/// One random byte per character, by rejection: a byte is used only below the largest
/// multiple of the alphabet's length that fits in 256, so every character is equally
/// likely. (`gen_range` took eight bytes a character, and a lease ID's 24 characters were
/// most of what a transit request drew from the OS RNG.)
pub fn random_from(alphabet: &[u8], n: usize) -> String {
    let len = alphabet.len();
    if len == 0 {
        return String::new();
    }
    if len > 256 {
        return (0..n)
            .map(|_| alphabet[PooledOsRng.gen_range(0..len)] as char)
            .collect();
    }
    let zone = 256 - 256 % len;
    let mut out = String::with_capacity(n);
    let mut drawn = 0;
    let mut buf = [0u8; 64];
    while drawn < n {
        let want = (n - drawn).min(buf.len());
        fill_random(&mut buf[..want]);
        for &b in buf[..want].iter().filter(|&&b| usize::from(b) < zone) {
            out.push(alphabet[usize::from(b) % len] as char);
            drawn += 1;
        }
    }
    buf.zeroize();
    out
}

/// An index drawn uniformly from `0..len` with the OS RNG (through the pool), for picking
/// from a list that is not ASCII bytes. Panics when `len` is 0.
pub fn random_index(len: usize) -> usize {
    PooledOsRng.gen_range(0..len)
}

/// A random (version 4) UUID in its canonical hyphenated form.
pub fn random_uuid() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut b = [0u8; 16];
    fill_random(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let mut out = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(HEX[usize::from(byte >> 4)] as char);
        out.push(HEX[usize::from(byte & 0x0f)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn uuid_shape_and_uniqueness() {
        let a = random_uuid();
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"));
        assert_eq!(
            a.char_indices()
                .filter(|(_, c)| *c == '-')
                .map(|(i, _)| i)
                .collect::<Vec<_>>(),
            [8, 13, 18, 23]
        );
        assert!(a.bytes().all(|c| c == b'-' || c.is_ascii_hexdigit()));
        assert_ne!(a, random_uuid());
        assert_eq!(random_alnum(24).len(), 24);
        let hex = random_from(b"0123456789abcdef", 40);
        assert!(hex.len() == 40 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(random_from(b"", 3), "");
        let picks: HashSet<usize> = (0..200).map(|_| random_index(3)).collect();
        assert_eq!(picks, HashSet::from([0, 1, 2]));
    }

    /// Draws of every size, across many refills of the pool, never repeat a byte run: each
    /// pool byte is handed out once.
    #[test]
    fn pooled_draws_never_repeat() {
        let mut seen = HashSet::new();
        for round in 0..4_000 {
            let len = [16, 12, 7, 33, 256, 257, 1][round % 7];
            let drawn = random_bytes(len);
            assert_eq!(drawn.len(), len);
            if len >= 12 {
                assert!(seen.insert(drawn), "a draw of {len} bytes repeated");
            }
        }
    }

    /// Characters are drawn from the whole alphabet.
    #[test]
    fn alphabet_draws_cover_the_alphabet() {
        let drawn = random_alnum(4_000);
        let distinct: HashSet<char> = drawn.chars().collect();
        assert_eq!(distinct.len(), ALNUM.len());
    }

    /// The rejection keeps the draw uniform: with 62 characters, a plain `byte % 62` would
    /// make the first eight characters one and a quarter times as likely as the others
    /// (5 bytes map to each of them against 4). Across 620,000 characters each is expected
    /// 10,000 times, with a standard deviation of about 100; the bias would put the first
    /// eight near 12,000.
    #[test]
    fn alphabet_draws_are_uniform() {
        let drawn = random_alnum(620_000);
        assert_eq!(drawn.len(), 620_000);
        let mut counts = std::collections::HashMap::new();
        for c in drawn.bytes() {
            *counts.entry(c).or_insert(0u32) += 1;
        }
        assert_eq!(counts.len(), 62);
        for (c, n) in counts {
            assert!(
                (9_400..=10_600).contains(&n),
                "{} drawn {n} times",
                c as char
            );
        }
        let long = random_from(&[b'x'; 300], 5);
        assert_eq!(long, "xxxxx");
        let bytes: Vec<u8> = (0..=255).collect();
        let all = random_from(&bytes[..128], 1_000);
        assert_eq!(all.chars().count(), 1_000);
    }
}
