//! The AEAD record protection: AES-128-GCM, AES-256-GCM (RFC 5288, RFC
//! 8446 5.2) and ChaCha20-Poly1305 (RFC 7905, RFC 8446 5.2), each record's
//! nonce from the write IV and the record sequence number (RFC 8446 5.3,
//! RFC 5288 3, RFC 7905 2). The ciphers are RustCrypto's, which use the
//! processor's AES and carry-less multiply instructions when it has them
//! (detected at run time).

use super::keys::Hash;
use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes128Gcm, Aes256Gcm, KeyInit};
use chacha20poly1305::ChaCha20Poly1305;

/// The bulk cipher of a suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bulk {
    Aes128Gcm,
    Aes256Gcm,
    ChaCha20Poly1305,
}

impl Bulk {
    pub fn key_len(self) -> usize {
        match self {
            Bulk::Aes128Gcm => 16,
            Bulk::Aes256Gcm | Bulk::ChaCha20Poly1305 => 32,
        }
    }

    /// The TLS 1.2 implicit IV length (the GCM salt is 4 bytes, RFC 5288
    /// 3; ChaCha20's whole 12-byte nonce base, RFC 7905 2).
    pub fn iv_len12(self) -> usize {
        match self {
            Bulk::Aes128Gcm | Bulk::Aes256Gcm => 4,
            Bulk::ChaCha20Poly1305 => 12,
        }
    }
}

/// A cipher suite this stage can decrypt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Suite {
    pub id: u16,
    pub name: &'static str,
    pub bulk: Bulk,
    pub hash: Hash,
    /// A TLS 1.3 suite (the others are TLS 1.2 suites).
    pub tls13: bool,
}

const fn suite(id: u16, name: &'static str, bulk: Bulk, hash: Hash, tls13: bool) -> Suite {
    Suite {
        id,
        name,
        bulk,
        hash,
        tls13,
    }
}

/// The suites decrypted (IANA TLS Cipher Suites registry).
const SUITES: &[Suite] = &[
    suite(
        0x1301,
        "TLS_AES_128_GCM_SHA256",
        Bulk::Aes128Gcm,
        Hash::Sha256,
        true,
    ),
    suite(
        0x1302,
        "TLS_AES_256_GCM_SHA384",
        Bulk::Aes256Gcm,
        Hash::Sha384,
        true,
    ),
    suite(
        0x1303,
        "TLS_CHACHA20_POLY1305_SHA256",
        Bulk::ChaCha20Poly1305,
        Hash::Sha256,
        true,
    ),
    suite(
        0xc02b,
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        Bulk::Aes128Gcm,
        Hash::Sha256,
        false,
    ),
    suite(
        0xc02c,
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        Bulk::Aes256Gcm,
        Hash::Sha384,
        false,
    ),
    suite(
        0xc02f,
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        Bulk::Aes128Gcm,
        Hash::Sha256,
        false,
    ),
    suite(
        0xc030,
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        Bulk::Aes256Gcm,
        Hash::Sha384,
        false,
    ),
    suite(
        0xcca8,
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        Bulk::ChaCha20Poly1305,
        Hash::Sha256,
        false,
    ),
    suite(
        0xcca9,
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        Bulk::ChaCha20Poly1305,
        Hash::Sha256,
        false,
    ),
    suite(
        0xccaa,
        "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        Bulk::ChaCha20Poly1305,
        Hash::Sha256,
        false,
    ),
    suite(
        0x009c,
        "TLS_RSA_WITH_AES_128_GCM_SHA256",
        Bulk::Aes128Gcm,
        Hash::Sha256,
        false,
    ),
    suite(
        0x009d,
        "TLS_RSA_WITH_AES_256_GCM_SHA384",
        Bulk::Aes256Gcm,
        Hash::Sha384,
        false,
    ),
    suite(
        0x009e,
        "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
        Bulk::Aes128Gcm,
        Hash::Sha256,
        false,
    ),
    suite(
        0x009f,
        "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
        Bulk::Aes256Gcm,
        Hash::Sha384,
        false,
    ),
];

impl Suite {
    pub fn by_id(id: u16) -> Option<Suite> {
        SUITES.iter().copied().find(|s| s.id == id)
    }
}

/// The AEAD with its key (boxed: only decrypting connections hold one).
enum Aead {
    Aes128(Box<Aes128Gcm>),
    Aes256(Box<Aes256Gcm>),
    ChaCha(Box<ChaCha20Poly1305>),
}

/// Authentication failed: wrong keys, a wrong sequence number, or altered
/// bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the record did not authenticate")]
pub struct Unauthentic;

/// Tag length of every AEAD here.
pub const TAG: usize = 16;

/// One direction's record protection.
pub struct RecordCipher {
    aead: Aead,
    /// TLS 1.3 and ChaCha20: the 12-byte IV XORed with the sequence
    /// number; TLS 1.2 GCM: the 4-byte salt, the rest of the nonce in the
    /// record.
    iv: [u8; 12],
    tls13: bool,
    explicit_nonce: bool,
    /// The sequence number of the next record.
    pub seq: u64,
}

impl RecordCipher {
    /// A cipher for `bulk` with `key` and `iv` (of the lengths the version
    /// uses: 12 bytes in TLS 1.3, [`Bulk::iv_len12`] in TLS 1.2).
    pub fn new(bulk: Bulk, key: &[u8], iv: &[u8], tls13: bool) -> Option<RecordCipher> {
        let aead = match bulk {
            Bulk::Aes128Gcm => Aead::Aes128(Box::new(Aes128Gcm::new_from_slice(key).ok()?)),
            Bulk::Aes256Gcm => Aead::Aes256(Box::new(Aes256Gcm::new_from_slice(key).ok()?)),
            Bulk::ChaCha20Poly1305 => {
                Aead::ChaCha(Box::new(ChaCha20Poly1305::new_from_slice(key).ok()?))
            }
        };
        let explicit_nonce = !tls13 && bulk != Bulk::ChaCha20Poly1305;
        let mut base = [0; 12];
        let want = if explicit_nonce { 4 } else { 12 };
        if iv.len() != want {
            return None;
        }
        base[..want].copy_from_slice(iv);
        Some(RecordCipher {
            aead,
            iv: base,
            tls13,
            explicit_nonce,
            seq: 0,
        })
    }

    /// Bytes of a protected record that are not content: the tag, the
    /// explicit nonce (TLS 1.2 GCM) and the content type (TLS 1.3).
    pub fn overhead(&self) -> usize {
        TAG + if self.explicit_nonce { 8 } else { 0 } + usize::from(self.tls13)
    }

    /// Decrypts the record with header `header` (type, version, length)
    /// and `body` in place with sequence number `seq`; returns the range of
    /// `body` holding the plaintext (for TLS 1.3, the inner plaintext with
    /// its content type and padding).
    pub fn open(
        &self,
        seq: u64,
        header: [u8; 5],
        body: &mut [u8],
    ) -> Result<std::ops::Range<usize>, Unauthentic> {
        let skip = if self.explicit_nonce { 8 } else { 0 };
        if body.len() < skip + TAG {
            return Err(Unauthentic);
        }
        let mut nonce = self.iv;
        if self.explicit_nonce {
            nonce[4..].copy_from_slice(&body[..8]);
        } else {
            for (n, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
                *n ^= s;
            }
        }
        let text_len = body.len() - skip - TAG;
        let mut aad = [0u8; 13];
        let aad: &[u8] = if self.tls13 {
            // RFC 8446 5.2: the record header is the additional data.
            &header
        } else {
            // RFC 5246 6.2.3.3: seq, type, version, plaintext length.
            aad[..8].copy_from_slice(&seq.to_be_bytes());
            aad[8..11].copy_from_slice(&header[..3]);
            aad[11..].copy_from_slice(&(text_len as u16).to_be_bytes());
            &aad
        };
        let (text, tag) = body[skip..].split_at_mut(text_len);
        let tag: &[u8] = tag;
        let ok = match &self.aead {
            Aead::Aes128(c) => c.decrypt_inout_detached(
                &nonce.into(),
                aad,
                text.into(),
                &tag.try_into().map_err(|_| Unauthentic)?,
            ),
            Aead::Aes256(c) => c.decrypt_inout_detached(
                &nonce.into(),
                aad,
                text.into(),
                &tag.try_into().map_err(|_| Unauthentic)?,
            ),
            Aead::ChaCha(c) => c.decrypt_inout_detached(
                &nonce.into(),
                aad,
                text.into(),
                &tag.try_into().map_err(|_| Unauthentic)?,
            ),
        };
        ok.map_err(|_| Unauthentic)?;
        Ok(skip..skip + text_len)
    }

    /// Encrypts `text` as one record of `content_type` with sequence
    /// number `seq` (TLS 1.3: `text` is the inner plaintext, type byte
    /// included): for tests of this stage.
    #[cfg(test)]
    pub fn seal(&self, seq: u64, content_type: u8, text: &[u8]) -> Vec<u8> {
        let skip = if self.explicit_nonce { 8 } else { 0 };
        let len = skip + text.len() + TAG;
        let mut rec = vec![content_type, 3, 3];
        rec.extend_from_slice(&(len as u16).to_be_bytes());
        let mut nonce = self.iv;
        if self.explicit_nonce {
            nonce[4..].copy_from_slice(&seq.to_be_bytes());
            rec.extend_from_slice(&seq.to_be_bytes());
        } else {
            for (n, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
                *n ^= s;
            }
        }
        let mut aad = Vec::new();
        if self.tls13 {
            aad.extend_from_slice(&rec[..5]);
        } else {
            aad.extend_from_slice(&seq.to_be_bytes());
            aad.extend_from_slice(&rec[..3]);
            aad.extend_from_slice(&(text.len() as u16).to_be_bytes());
        }
        let mut buf = text.to_vec();
        let tag = match &self.aead {
            Aead::Aes128(c) => {
                c.encrypt_inout_detached(&nonce.into(), &aad, buf.as_mut_slice().into())
            }
            Aead::Aes256(c) => {
                c.encrypt_inout_detached(&nonce.into(), &aad, buf.as_mut_slice().into())
            }
            Aead::ChaCha(c) => {
                c.encrypt_inout_detached(&nonce.into(), &aad, buf.as_mut_slice().into())
            }
        }
        .unwrap();
        rec.extend_from_slice(&buf);
        rec.extend_from_slice(&tag);
        rec
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ciphers(bulk: Bulk, tls13: bool) -> RecordCipher {
        let iv_len = if tls13 { 12 } else { bulk.iv_len12() };
        RecordCipher::new(bulk, &vec![9; bulk.key_len()], &vec![5; iv_len], tls13).unwrap()
    }

    #[test]
    fn every_bulk_and_version_round_trips_and_checks_its_tag() {
        for bulk in [Bulk::Aes128Gcm, Bulk::Aes256Gcm, Bulk::ChaCha20Poly1305] {
            for tls13 in [true, false] {
                let c = ciphers(bulk, tls13);
                let rec = c.seal(7, 23, b"hello\x17");
                let header: [u8; 5] = rec[..5].try_into().unwrap();
                let mut body = rec[5..].to_vec();
                assert_eq!(body.len(), 6 + c.overhead() - usize::from(tls13));
                let r = c.open(7, header, &mut body).unwrap();
                assert_eq!(&body[r], b"hello\x17", "{bulk:?} {tls13}");
                // Another sequence number, or one flipped bit: refused.
                let mut body = rec[5..].to_vec();
                assert_eq!(c.open(8, header, &mut body), Err(Unauthentic));
                let mut body = rec[5..].to_vec();
                let n = body.len();
                body[n - 1] ^= 1;
                let before = body.clone();
                assert_eq!(c.open(7, header, &mut body), Err(Unauthentic));
                // Checked before decrypting: a failed try leaves the bytes
                // (the stage relies on it to try other sequence numbers).
                assert_eq!(body, before);
                // Shorter than a tag: refused, no panic.
                assert_eq!(c.open(7, header, &mut [0; 3]), Err(Unauthentic));
            }
        }
    }

    #[test]
    fn wrong_key_or_iv_lengths_are_refused() {
        assert!(RecordCipher::new(Bulk::Aes128Gcm, &[0; 15], &[0; 12], true).is_none());
        assert!(RecordCipher::new(Bulk::Aes128Gcm, &[0; 16], &[0; 12], false).is_none());
        assert!(RecordCipher::new(Bulk::ChaCha20Poly1305, &[0; 32], &[0; 4], false).is_none());
    }

    #[test]
    fn suites_by_id() {
        assert_eq!(Suite::by_id(0x1302).unwrap().name, "TLS_AES_256_GCM_SHA384");
        assert!(!Suite::by_id(0xcca8).unwrap().tls13);
        assert!(Suite::by_id(0x002f).is_none());
    }
}
