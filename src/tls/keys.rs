//! Record keys from logged secrets: the TLS 1.3 key schedule's last steps
//! (RFC 8446 7.1 HKDF-Expand-Label, 7.2 the traffic key update, 7.3 keys
//! and IVs) and the TLS 1.2 key block (RFC 5246 5 and 6.3). The HMAC and
//! HKDF are RustCrypto's; only the label layouts are written here.

use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Sha256, Sha384};

/// The hash of a cipher suite (its PRF and HKDF hash).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha384,
}

impl Hash {
    /// Output length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
        }
    }
}

/// A secret of the wrong length for its hash (a broken key log line).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a secret of {got} bytes where the cipher suite's hash takes at least {want}")]
pub struct BadSecret {
    pub got: usize,
    pub want: usize,
}

/// A secret ready for HKDF-Expand: its HMAC keyed once (the inner and
/// outer pads hashed), then expanded for each label.
enum Prk {
    Sha256(Hkdf<Sha256>),
    Sha384(Hkdf<Sha384>),
}

impl Prk {
    fn new(hash: Hash, secret: &[u8]) -> Result<Prk, BadSecret> {
        let bad = BadSecret {
            got: secret.len(),
            want: hash.output_len(),
        };
        Ok(match hash {
            Hash::Sha256 => Prk::Sha256(Hkdf::from_prk(secret).map_err(|_| bad)?),
            Hash::Sha384 => Prk::Sha384(Hkdf::from_prk(secret).map_err(|_| bad)?),
        })
    }

    /// HKDF-Expand-Label (RFC 8446 7.1) into `out`, `label` without its
    /// `tls13 ` prefix.
    fn expand_label(&self, label: &[u8], context: &[u8], out: &mut [u8]) -> Result<(), BadSecret> {
        // HkdfLabel: uint16 length, opaque label<7..255>, opaque context<0..255>.
        let full_len = 6 + label.len();
        let mut info = Vec::with_capacity(4 + full_len + context.len());
        info.extend_from_slice(&(out.len() as u16).to_be_bytes());
        info.push(full_len as u8);
        info.extend_from_slice(b"tls13 ");
        info.extend_from_slice(label);
        info.push(context.len() as u8);
        info.extend_from_slice(context);
        let (res, hash) = match self {
            Prk::Sha256(h) => (h.expand(&info, out), Hash::Sha256),
            Prk::Sha384(h) => (h.expand(&info, out), Hash::Sha384),
        };
        // Only an output longer than 255 hashes fails.
        res.map_err(|_| BadSecret {
            got: out.len(),
            want: hash.output_len(),
        })
    }
}

/// HKDF-Expand-Label(secret, label, context, len) (RFC 8446 7.1), `label`
/// without its `tls13 ` prefix.
pub fn expand_label(
    hash: Hash,
    secret: &[u8],
    label: &[u8],
    context: &[u8],
    out: &mut [u8],
) -> Result<(), BadSecret> {
    Prk::new(hash, secret)?.expand_label(label, context, out)
}

/// A traffic secret's record key and IV (RFC 8446 7.3), from one keyed
/// HMAC (connections come and go by the thousand: each sets up four).
pub fn traffic_keys(
    hash: Hash,
    secret: &[u8],
    key_len: usize,
) -> Result<(Vec<u8>, [u8; 12]), BadSecret> {
    let prk = Prk::new(hash, secret)?;
    let mut key = vec![0; key_len];
    let mut iv = [0; 12];
    prk.expand_label(b"key", b"", &mut key)?;
    prk.expand_label(b"iv", b"", &mut iv)?;
    Ok((key, iv))
}

/// The next traffic secret after a KeyUpdate (RFC 8446 7.2).
pub fn next_secret(hash: Hash, secret: &[u8]) -> Result<Vec<u8>, BadSecret> {
    let mut next = vec![0; hash.output_len()];
    expand_label(hash, secret, b"traffic upd", b"", &mut next)?;
    Ok(next)
}

/// P_hash (RFC 5246 5): HMAC chained over `seed` until `out` is full.
fn p_hash<M: Mac + KeyInit + Clone>(secret: &[u8], seed: &[&[u8]], out: &mut [u8]) {
    let base = <M as KeyInit>::new_from_slice(secret).expect("HMAC takes any key length");
    let mac = |parts: &[&[u8]]| {
        let mut m = base.clone();
        parts.iter().for_each(|p| m.update(p));
        m.finalize().into_bytes()
    };
    let mut a = mac(seed);
    let mut filled = 0;
    while filled < out.len() {
        let mut parts: Vec<&[u8]> = vec![&a];
        parts.extend_from_slice(seed);
        let block = mac(&parts);
        let n = block.len().min(out.len() - filled);
        out[filled..filled + n].copy_from_slice(&block[..n]);
        filled += n;
        a = mac(&[&a]);
    }
}

/// The TLS 1.2 PRF (RFC 5246 5) with the suite's hash.
pub fn prf12(hash: Hash, secret: &[u8], label: &[u8], seed: &[&[u8]], out: &mut [u8]) {
    let mut parts = vec![label];
    parts.extend_from_slice(seed);
    match hash {
        Hash::Sha256 => p_hash::<Hmac<Sha256>>(secret, &parts, out),
        Hash::Sha384 => p_hash::<Hmac<Sha384>>(secret, &parts, out),
    }
}

/// One side's TLS 1.2 MAC key (block ciphers), write key and IV (the
/// implicit nonce part).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteKeys {
    pub mac: Vec<u8>,
    pub key: Vec<u8>,
    pub iv: Vec<u8>,
}

/// The client's and the server's write keys from the master secret (RFC
/// 5246 6.3: the key block, AEAD suites having no MAC key).
pub fn key_block12(
    hash: Hash,
    master: &[u8],
    client_random: &[u8],
    server_random: &[u8],
    (key_len, iv_len): (usize, usize),
) -> [WriteKeys; 2] {
    key_block12_mac(
        hash,
        master,
        [client_random, server_random],
        (0, key_len, iv_len),
    )
}

/// [`key_block12`] for a suite with MAC keys (CBC): the block holds the
/// two MAC keys, then the two write keys, then the two IVs.
pub fn key_block12_mac(
    hash: Hash,
    master: &[u8],
    [client_random, server_random]: [&[u8]; 2],
    (mac_len, key_len, iv_len): (usize, usize, usize),
) -> [WriteKeys; 2] {
    let mut block = vec![0; 2 * (mac_len + key_len + iv_len)];
    let seed: [&[u8]; 2] = [server_random, client_random];
    prf12(hash, master, b"key expansion", &seed, &mut block);
    let (macs, rest) = block.split_at(2 * mac_len);
    let (keys, ivs) = rest.split_at(2 * key_len);
    let part = |b: &[u8], len: usize, i: usize| b[i * len..(i + 1) * len].to_vec();
    let side = |i: usize| WriteKeys {
        mac: part(macs, mac_len, i),
        key: part(keys, key_len, i),
        iv: part(ivs, iv_len, i),
    };
    [side(0), side(1)]
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_util::unhex;

    /// RFC 8448 3 (simple 1-RTT): the server handshake traffic secret and
    /// the key and IV it gives.
    #[test]
    fn rfc8448_server_handshake_keys() {
        let secret = unhex(
            "b6 7b 7d 69 0c c1 6c 4e 75 e5 42 13 cb 2d 37 b4
             e9 c9 12 bc de d9 10 5d 42 be fd 59 d3 91 ad 38",
        );
        let (key, iv) = traffic_keys(Hash::Sha256, &secret, 16).unwrap();
        assert_eq!(
            key,
            unhex("3f ce 51 60 09 c2 17 27 d0 f2 e4 e8 6e e4 03 bc")
        );
        assert_eq!(iv.to_vec(), unhex("5d 31 3e b2 67 12 76 ee 13 00 0b 30"));
    }

    #[test]
    fn short_secret_is_an_error_not_a_panic() {
        let e = traffic_keys(Hash::Sha384, &[1; 20], 32).unwrap_err();
        assert_eq!(e, BadSecret { got: 20, want: 48 });
    }

    #[test]
    fn key_update_changes_the_secret_and_keeps_its_length() {
        let s = vec![7; 48];
        let n = next_secret(Hash::Sha384, &s).unwrap();
        assert_eq!(n.len(), 48);
        assert_ne!(n, s);
        assert_eq!(next_secret(Hash::Sha384, &s).unwrap(), n);
    }

    /// The TLS 1.2 PRF test vector with SHA-256 circulated on the IETF TLS
    /// list (100 bytes of "test label").
    #[test]
    fn tls12_prf_sha256_vector() {
        let secret = unhex("9b be 43 6b a9 40 f0 17 b1 76 52 84 9a 71 db 35");
        let seed = unhex("a0 ba 9f 93 6c da 31 18 27 a6 f7 96 ff d5 19 8c");
        let mut out = [0; 100];
        prf12(Hash::Sha256, &secret, b"test label", &[&seed], &mut out);
        let want = unhex(
            "e3 f2 29 ba 72 7b e1 7b 8d 12 26 20 55 7c d4 53 c2 aa b2 1d 07 c3 d4 95 32 9b 52 d4
             e6 1e db 5a 6b 30 17 91 e9 0d 35 c9 c9 a4 6b 4e 14 ba f9 af 0f a0 22 f7 07 7d ef 17
             ab fd 37 97 c0 56 4b ab 4f bc 91 66 6e 9d ef 9b 97 fc e3 4f 79 67 89 ba a4 80 82 d1
             22 ee 42 c5 a7 2e 5a 51 10 ff f7 01 87 34 7b 66",
        );
        assert_eq!(out.to_vec(), want);
    }

    #[test]
    fn key_block_splits_client_then_server() {
        let [c, s] = key_block12(Hash::Sha256, &[1; 48], &[2; 32], &[3; 32], (16, 4));
        let mut block = [0; 40];
        prf12(
            Hash::Sha256,
            &[1; 48],
            b"key expansion",
            &[&[3; 32], &[2; 32]],
            &mut block,
        );
        assert_eq!(c.key, block[..16]);
        assert_eq!(s.key, block[16..32]);
        assert_eq!(c.iv, block[32..36]);
        assert_eq!(s.iv, block[36..40]);
    }
}
