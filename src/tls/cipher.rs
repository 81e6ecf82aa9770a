//! Record protection: the AEADs AES-128-GCM, AES-256-GCM (RFC 5288, RFC
//! 8446 5.2) and ChaCha20-Poly1305 (RFC 7905, RFC 8446 5.2), each record's
//! nonce from the write IV and the record sequence number (RFC 8446 5.3,
//! RFC 5288 3, RFC 7905 2); and TLS 1.2's AES-CBC with HMAC (RFC 5246
//! 6.2.3.2, MAC then encrypt, or encrypt then MAC when negotiated, RFC
//! 7366). The AEADs are ring's: records of a few dozen bytes, the usual
//! WebSocket message, cost mostly per record, and ring's assembly
//! decrypts and authenticates them in one pass, pipelined over the blocks
//! (RustCrypto's `aes-gcm` took about twice its time and instructions on
//! them). The block ciphers and MACs are RustCrypto's. Both use the
//! processor's AES, carry-less multiply and SHA instructions when it has
//! them (detected at run time).

use super::keys::Hash;
use cbc::cipher::{BlockModeDecrypt, KeyIvInit, block_padding::NoPadding};
use hmac::{Hmac, KeyInit};
use ring::aead::{AES_128_GCM, AES_256_GCM, Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, Tag};

/// The bulk cipher of a suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bulk {
    Aes128Gcm,
    Aes256Gcm,
    ChaCha20Poly1305,
    /// TLS 1.2 block ciphers, with the suite's [`Mac`].
    Aes128Cbc,
    Aes256Cbc,
}

impl Bulk {
    pub fn key_len(self) -> usize {
        match self {
            Bulk::Aes128Gcm | Bulk::Aes128Cbc => 16,
            Bulk::Aes256Gcm | Bulk::ChaCha20Poly1305 | Bulk::Aes256Cbc => 32,
        }
    }

    /// The TLS 1.2 key block's IV length (the GCM salt is 4 bytes, RFC
    /// 5288 3; ChaCha20's whole 12-byte nonce base, RFC 7905 2; CBC's 16,
    /// unused since records carry their own IV, RFC 5246 6.2.3.2).
    pub fn iv_len12(self) -> usize {
        match self {
            Bulk::Aes128Gcm | Bulk::Aes256Gcm => 4,
            Bulk::ChaCha20Poly1305 => 12,
            Bulk::Aes128Cbc | Bulk::Aes256Cbc => 16,
        }
    }

    pub fn is_cbc(self) -> bool {
        matches!(self, Bulk::Aes128Cbc | Bulk::Aes256Cbc)
    }
}

/// The record MAC of a block cipher suite (AEAD suites have none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mac {
    Aead,
    Sha1,
    Sha256,
    Sha384,
}

impl Mac {
    pub fn key_len(self) -> usize {
        match self {
            Mac::Aead => 0,
            Mac::Sha1 => 20,
            Mac::Sha256 => 32,
            Mac::Sha384 => 48,
        }
    }

    /// HMAC of the parts, in `out` (its first [`Mac::key_len`] bytes).
    fn hmac(self, key: &[u8], parts: &[&[u8]], out: &mut [u8; 48]) {
        fn run<M: hmac::Mac + KeyInit>(key: &[u8], parts: &[&[u8]], out: &mut [u8]) {
            let mut m = <M as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
            parts.iter().for_each(|p| m.update(p));
            out.copy_from_slice(&m.finalize().into_bytes());
        }
        let n = self.key_len();
        match self {
            Mac::Aead => {}
            Mac::Sha1 => run::<Hmac<sha1::Sha1>>(key, parts, &mut out[..n]),
            Mac::Sha256 => run::<Hmac<sha2::Sha256>>(key, parts, &mut out[..n]),
            Mac::Sha384 => run::<Hmac<sha2::Sha384>>(key, parts, &mut out[..n]),
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
    pub mac: Mac,
}

const fn suite(id: u16, name: &'static str, bulk: Bulk, hash: Hash, tls13: bool) -> Suite {
    Suite {
        id,
        name,
        bulk,
        hash,
        tls13,
        mac: Mac::Aead,
    }
}

/// A TLS 1.2 AES-CBC suite with its MAC (the PRF is SHA-384 for the
/// SHA-384 suites, else SHA-256: RFC 5246 5, RFC 5289).
const fn cbc(id: u16, name: &'static str, bulk: Bulk, mac: Mac) -> Suite {
    let hash = if matches!(mac, Mac::Sha384) {
        Hash::Sha384
    } else {
        Hash::Sha256
    };
    Suite {
        id,
        name,
        bulk,
        hash,
        tls13: false,
        mac,
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
    cbc(
        0x002f,
        "TLS_RSA_WITH_AES_128_CBC_SHA",
        Bulk::Aes128Cbc,
        Mac::Sha1,
    ),
    cbc(
        0x0035,
        "TLS_RSA_WITH_AES_256_CBC_SHA",
        Bulk::Aes256Cbc,
        Mac::Sha1,
    ),
    cbc(
        0x003c,
        "TLS_RSA_WITH_AES_128_CBC_SHA256",
        Bulk::Aes128Cbc,
        Mac::Sha256,
    ),
    cbc(
        0x003d,
        "TLS_RSA_WITH_AES_256_CBC_SHA256",
        Bulk::Aes256Cbc,
        Mac::Sha256,
    ),
    cbc(
        0xc009,
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
        Bulk::Aes128Cbc,
        Mac::Sha1,
    ),
    cbc(
        0xc00a,
        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
        Bulk::Aes256Cbc,
        Mac::Sha1,
    ),
    cbc(
        0xc013,
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        Bulk::Aes128Cbc,
        Mac::Sha1,
    ),
    cbc(
        0xc014,
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        Bulk::Aes256Cbc,
        Mac::Sha1,
    ),
    cbc(
        0xc023,
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
        Bulk::Aes128Cbc,
        Mac::Sha256,
    ),
    cbc(
        0xc024,
        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
        Bulk::Aes256Cbc,
        Mac::Sha384,
    ),
    cbc(
        0xc027,
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
        Bulk::Aes128Cbc,
        Mac::Sha256,
    ),
    cbc(
        0xc028,
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
        Bulk::Aes256Cbc,
        Mac::Sha384,
    ),
];

impl Suite {
    pub fn by_id(id: u16) -> Option<Suite> {
        SUITES.iter().copied().find(|s| s.id == id)
    }
}

/// The AEAD with its key (boxed: only decrypting connections hold one).
enum Aead {
    Ring(Box<LessSafeKey>),
    Cbc(Box<Cbc>),
}

/// A TLS 1.2 CBC direction's keys.
struct Cbc {
    bulk: Bulk,
    key: Vec<u8>,
    mac: Mac,
    mac_key: Vec<u8>,
    /// Encrypt-then-MAC was negotiated (RFC 7366).
    etm: bool,
    /// Where MAC-then-encrypt records are decrypted before their MAC is
    /// checked (a record that fails stays as it was).
    scratch: Vec<u8>,
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
    /// A record's bytes kept by [`RecordCipher::try_open`] while it tries.
    saved: Vec<u8>,
}

impl RecordCipher {
    /// A cipher for `bulk` with `key` and `iv` (of the lengths the version
    /// uses: 12 bytes in TLS 1.3, [`Bulk::iv_len12`] in TLS 1.2).
    pub fn new(bulk: Bulk, key: &[u8], iv: &[u8], tls13: bool) -> Option<RecordCipher> {
        let alg = match bulk {
            Bulk::Aes128Gcm => &AES_128_GCM,
            Bulk::Aes256Gcm => &AES_256_GCM,
            Bulk::ChaCha20Poly1305 => &CHACHA20_POLY1305,
            // Block ciphers take a MAC key: `new_cbc`.
            Bulk::Aes128Cbc | Bulk::Aes256Cbc => return None,
        };
        let key = ring::aead::UnboundKey::new(alg, key).ok()?;
        let aead = Aead::Ring(Box::new(LessSafeKey::new(key)));
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
            saved: Vec::new(),
        })
    }

    /// A TLS 1.2 AES-CBC cipher with `key` and the HMAC `mac` keyed with
    /// `mac_key`; `etm` when encrypt-then-MAC was negotiated.
    pub fn new_cbc(
        bulk: Bulk,
        key: &[u8],
        (mac, mac_key): (Mac, &[u8]),
        etm: bool,
    ) -> Option<RecordCipher> {
        if !bulk.is_cbc() || key.len() != bulk.key_len() || mac == Mac::Aead {
            return None;
        }
        let cbc = Cbc {
            bulk,
            key: key.to_vec(),
            mac,
            mac_key: mac_key.to_vec(),
            etm,
            scratch: Vec::new(),
        };
        Some(RecordCipher {
            aead: Aead::Cbc(Box::new(cbc)),
            iv: [0; 12],
            tls13: false,
            explicit_nonce: false,
            seq: 0,
            saved: Vec::new(),
        })
    }

    /// Bytes of a protected record that are not content: the tag, the
    /// explicit nonce (TLS 1.2 GCM) and the content type (TLS 1.3); for
    /// CBC the IV, the MAC and one byte of padding (more may be used).
    pub fn overhead(&self) -> usize {
        if let Aead::Cbc(c) = &self.aead {
            return 16 + c.mac.key_len() + 1;
        }
        TAG + if self.explicit_nonce { 8 } else { 0 } + usize::from(self.tls13)
    }

    /// Decrypts the record with header `header` (type, version, length)
    /// and `body` in place with sequence number `seq`; returns the range of
    /// `body` holding the plaintext (for TLS 1.3, the inner plaintext with
    /// its content type and padding). A record that fails may be left
    /// overwritten (the AEAD decrypts as it authenticates): for a try that
    /// no other follows; else [`RecordCipher::try_open`].
    pub fn open(
        &mut self,
        seq: u64,
        header: [u8; 5],
        body: &mut [u8],
    ) -> Result<std::ops::Range<usize>, Unauthentic> {
        let key = match &mut self.aead {
            Aead::Cbc(c) => return c.open(seq, header, body),
            Aead::Ring(key) => key,
        };
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
        let aad = aad(self.tls13, seq, header, text_len);
        let (text, tag) = body[skip..].split_at_mut(text_len);
        let tag = Tag::try_from(&*tag).map_err(|_| Unauthentic)?;
        let nonce = Nonce::assume_unique_for_key(nonce);
        key.open_in_place_separate_tag(nonce, Aad::from(aad.bytes()), tag, text, 0..)
            .map_err(|_| Unauthentic)?;
        Ok(skip..skip + text_len)
    }

    /// [`RecordCipher::open`], but a record that fails is left as it was
    /// (its bytes are kept aside first): for tries that others may follow,
    /// which the search after a gap and a lost Finished make.
    pub fn try_open(
        &mut self,
        seq: u64,
        header: [u8; 5],
        body: &mut [u8],
    ) -> Result<std::ops::Range<usize>, Unauthentic> {
        if let Aead::Cbc(c) = &mut self.aead {
            // Checked before it is decrypted, or decrypted aside.
            return c.open(seq, header, body);
        }
        let mut saved = std::mem::take(&mut self.saved);
        saved.clear();
        saved.extend_from_slice(body);
        let res = self.open(seq, header, body);
        if res.is_err() {
            body.copy_from_slice(&saved);
        }
        self.saved = saved;
        res
    }

    /// Frees the bytes [`RecordCipher::try_open`] kept aside (a record may
    /// be 16 KiB, and thousands of connections open).
    pub fn release(&mut self) {
        self.saved = Vec::new();
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
        let header: [u8; 5] = rec[..5].try_into().unwrap();
        let aad = aad(self.tls13, seq, header, text.len());
        let Aead::Ring(key) = &self.aead else {
            unimplemented!("CBC records are sealed in tests of their own")
        };
        let mut buf = text.to_vec();
        let nonce = Nonce::assume_unique_for_key(nonce);
        let tag = key
            .seal_in_place_separate_tag(nonce, Aad::from(aad.bytes()), &mut buf)
            .unwrap();
        rec.extend_from_slice(&buf);
        rec.extend_from_slice(tag.as_ref());
        rec
    }
}

/// A record's additional data, on the stack.
struct AdditionalData {
    buf: [u8; 13],
    len: usize,
}

impl AdditionalData {
    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// The additional data of a record with `header` and `text_len` bytes of
/// plaintext: TLS 1.3 the header (RFC 8446 5.2); TLS 1.2 the sequence
/// number, type, version and plaintext length (RFC 5246 6.2.3.3).
fn aad(tls13: bool, seq: u64, header: [u8; 5], text_len: usize) -> AdditionalData {
    let mut buf = [0u8; 13];
    if tls13 {
        buf[..5].copy_from_slice(&header);
        return AdditionalData { buf, len: 5 };
    }
    buf[..8].copy_from_slice(&seq.to_be_bytes());
    buf[8..11].copy_from_slice(&header[..3]);
    buf[11..].copy_from_slice(&(text_len as u16).to_be_bytes());
    AdditionalData { buf, len: 13 }
}

impl Cbc {
    /// The MAC of a record's `content` (RFC 5246 6.2.3.1: sequence
    /// number, type, version, length, content).
    fn mac_of(&self, seq: u64, header: [u8; 5], content: &[u8], out: &mut [u8; 48]) {
        let len = (content.len() as u16).to_be_bytes();
        let parts: [&[u8]; 5] = [
            &seq.to_be_bytes(),
            &header[..1],
            &header[1..3],
            &len,
            content,
        ];
        self.mac.hmac(&self.mac_key, &parts, out);
    }

    /// Decrypts `data` (whole blocks) in place with `iv`.
    fn decrypt(&self, iv: &[u8], data: &mut [u8]) -> Result<(), Unauthentic> {
        let ok = match self.bulk {
            Bulk::Aes128Cbc => cbc::Decryptor::<aes::Aes128>::new_from_slices(&self.key, iv)
                .map_err(|_| Unauthentic)?
                .decrypt_padded::<NoPadding>(data)
                .is_ok(),
            _ => cbc::Decryptor::<aes::Aes256>::new_from_slices(&self.key, iv)
                .map_err(|_| Unauthentic)?
                .decrypt_padded::<NoPadding>(data)
                .is_ok(),
        };
        if ok { Ok(()) } else { Err(Unauthentic) }
    }

    /// A CBC record `body` (IV, ciphertext, and the MAC after it with
    /// encrypt-then-MAC): the content's range once MAC and padding check.
    fn open(
        &mut self,
        seq: u64,
        header: [u8; 5],
        body: &mut [u8],
    ) -> Result<std::ops::Range<usize>, Unauthentic> {
        let n = self.mac.key_len();
        let mut want = [0u8; 48];
        if self.etm {
            // RFC 7366 3: the MAC covers IV and ciphertext; checked first.
            let enc_len = body.len().checked_sub(n).ok_or(Unauthentic)?;
            let (enc, tag) = body.split_at_mut(enc_len);
            self.mac_of(seq, header, enc, &mut want);
            if want[..n] != *tag || enc.len() < 32 || !enc.len().is_multiple_of(16) {
                return Err(Unauthentic);
            }
            let (iv, data) = enc.split_at_mut(16);
            self.decrypt(iv, data)?;
            let text = unpad(data).ok_or(Unauthentic)?;
            return Ok(16..16 + text);
        }
        if body.len() < 32 || !body.len().is_multiple_of(16) {
            return Err(Unauthentic);
        }
        let mut data = std::mem::take(&mut self.scratch);
        data.clear();
        data.extend_from_slice(&body[16..]);
        let res = self.decrypt(&body[..16], &mut data).and_then(|()| {
            let plain = unpad(&data).ok_or(Unauthentic)?;
            let content = plain.checked_sub(n).ok_or(Unauthentic)?;
            self.mac_of(seq, header, &data[..content], &mut want);
            if want[..n] != data[content..plain] {
                return Err(Unauthentic);
            }
            body[16..16 + content].copy_from_slice(&data[..content]);
            Ok(16..16 + content)
        });
        self.scratch = data;
        res
    }
}

/// The length of CBC plaintext before its padding (RFC 5246 6.2.3.2: the
/// last byte says how many bytes before it pad, each of that value).
fn unpad(data: &[u8]) -> Option<usize> {
    let pad = usize::from(*data.last()?);
    let text = data.len().checked_sub(pad + 1)?;
    data[text..data.len() - 1]
        .iter()
        .all(|&b| usize::from(b) == pad)
        .then_some(text)
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
                let mut c = ciphers(bulk, tls13);
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
                assert_eq!(c.open(7, header, &mut body.clone()), Err(Unauthentic));
                // A failed try leaves the bytes (the stage relies on it to
                // try other sequence numbers), and a later one still works.
                assert_eq!(c.try_open(8, header, &mut body), Err(Unauthentic));
                assert_eq!(body, before);
                body[n - 1] ^= 1;
                let r = c.try_open(7, header, &mut body).unwrap();
                assert_eq!(&body[r], b"hello\x17");
                // Shorter than a tag: refused, no panic.
                assert_eq!(c.open(7, header, &mut [0; 3]), Err(Unauthentic));
            }
        }
    }

    /// A CBC record as TLS 1.2 writes it: MAC then encrypt, or encrypt then
    /// MAC (RFC 5246 6.2.3.2, RFC 7366), with RustCrypto's CBC encryptor.
    fn cbc_record(mac: Mac, etm: bool, seq: u64, content: &[u8]) -> Vec<u8> {
        use cbc::cipher::BlockModeEncrypt;
        let (key, mac_key, iv) = ([3u8; 16], [4u8; 48], [5u8; 16]);
        let header = [23, 3, 3, 0, 0];
        let mac_of = |data: &[u8]| {
            let mut out = [0; 48];
            let len = (data.len() as u16).to_be_bytes();
            let parts: [&[u8]; 5] = [&seq.to_be_bytes(), &header[..1], &header[1..3], &len, data];
            mac.hmac(&mac_key[..mac.key_len()], &parts, &mut out);
            out[..mac.key_len()].to_vec()
        };
        let mut plain = content.to_vec();
        if !etm {
            plain.extend(mac_of(content));
        }
        let pad = 15 - plain.len() % 16;
        plain.extend(std::iter::repeat_n(pad as u8, pad + 1));
        let n = plain.len();
        let enc = cbc::Encryptor::<aes::Aes128>::new_from_slices(&key, &iv).unwrap();
        enc.encrypt_padded::<NoPadding>(&mut plain, n).unwrap();
        let mut body = iv.to_vec();
        body.extend(plain);
        if etm {
            let m = mac_of(&body);
            body.extend(m);
        }
        body
    }

    #[test]
    fn cbc_records_mac_then_encrypt_and_encrypt_then_mac() {
        for (mac, etm) in [
            (Mac::Sha1, false),
            (Mac::Sha384, false),
            (Mac::Sha256, true),
        ] {
            let mac_key = [4u8; 48];
            let keys = (mac, &mac_key[..mac.key_len()]);
            let mut c = RecordCipher::new_cbc(Bulk::Aes128Cbc, &[3; 16], keys, etm).unwrap();
            let header = [23, 3, 3, 0, 0];
            let mut body = cbc_record(mac, etm, 9, b"hello, cbc");
            let r = c.open(9, header, &mut body).unwrap();
            assert_eq!(&body[r], b"hello, cbc", "{mac:?} {etm}");
            // Another sequence number: the MAC fails, the bytes stay.
            let mut body = cbc_record(mac, etm, 9, b"hello, cbc");
            let before = body.clone();
            assert_eq!(c.open(10, header, &mut body), Err(Unauthentic));
            assert_eq!(body, before);
            assert_eq!(c.open(9, header, &mut [0; 20]), Err(Unauthentic));
        }
    }

    #[test]
    fn cbc_padding_is_checked() {
        assert_eq!(unpad(&[1, 2, 3, 1, 1]), Some(3));
        assert_eq!(unpad(&[1, 2, 0]), Some(2));
        assert_eq!(unpad(&[1, 2, 3, 2, 1]), None);
        assert_eq!(unpad(&[9, 9]), None);
        assert_eq!(unpad(&[]), None);
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
        assert_eq!(Suite::by_id(0xc028).unwrap().hash, Hash::Sha384);
        assert!(Suite::by_id(0x000a).is_none());
    }
}
