//! HPACK header block decoding (RFC 7541): the integer and string
//! representations (section 5), the static table (Appendix A), the dynamic
//! table with its evictions and size updates (section 4), and the field
//! representations (section 6).
//!
//! One [`Decoder`] per direction of a connection: each endpoint's encoder
//! keeps its own dynamic table, which the decoder mirrors. A decoding error
//! is fatal to that mirror (RFC 9113 4.3: a COMPRESSION_ERROR ends the
//! connection), so after one the decoder refuses every later block.
//!
//! Memory is bounded: the dynamic table by the largest size the peer may
//! use (at most [`MAX_TABLE_SIZE`] here, whatever SETTINGS announced), and
//! one block's decoded fields by [`MAX_LIST_SIZE`].

use super::huffman::{self, HuffmanError};
use std::collections::VecDeque;

/// RFC 7541 4.1: an entry's size is its name's and value's lengths plus 32.
const ENTRY_OVERHEAD: usize = 32;

/// RFC 9113 6.5.2: SETTINGS_HEADER_TABLE_SIZE's initial value.
pub const DEFAULT_TABLE_SIZE: usize = 4096;

/// The largest dynamic table mirrored. A peer may announce up to 2^32-1
/// bytes; an encoder that fills more than this loses its later header
/// blocks here, not the analysis its memory.
pub const MAX_TABLE_SIZE: usize = 1 << 20;

/// The decoded fields of one header block, at most (counted as RFC 9113
/// 6.5.2's SETTINGS_MAX_HEADER_LIST_SIZE counts, entry sizes).
pub const MAX_LIST_SIZE: usize = 1 << 20;

/// RFC 7541 Appendix A.
const STATIC: [(&str, &str); 61] = [
    (":authority", ""),
    (":method", "GET"),
    (":method", "POST"),
    (":path", "/"),
    (":path", "/index.html"),
    (":scheme", "http"),
    (":scheme", "https"),
    (":status", "200"),
    (":status", "204"),
    (":status", "206"),
    (":status", "304"),
    (":status", "400"),
    (":status", "404"),
    (":status", "500"),
    ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"),
    ("accept-language", ""),
    ("accept-ranges", ""),
    ("accept", ""),
    ("access-control-allow-origin", ""),
    ("age", ""),
    ("allow", ""),
    ("authorization", ""),
    ("cache-control", ""),
    ("content-disposition", ""),
    ("content-encoding", ""),
    ("content-language", ""),
    ("content-length", ""),
    ("content-location", ""),
    ("content-range", ""),
    ("content-type", ""),
    ("cookie", ""),
    ("date", ""),
    ("etag", ""),
    ("expect", ""),
    ("expires", ""),
    ("from", ""),
    ("host", ""),
    ("if-match", ""),
    ("if-modified-since", ""),
    ("if-none-match", ""),
    ("if-range", ""),
    ("if-unmodified-since", ""),
    ("last-modified", ""),
    ("link", ""),
    ("location", ""),
    ("max-forwards", ""),
    ("proxy-authenticate", ""),
    ("proxy-authorization", ""),
    ("range", ""),
    ("referer", ""),
    ("refresh", ""),
    ("retry-after", ""),
    ("server", ""),
    ("set-cookie", ""),
    ("strict-transport-security", ""),
    ("transfer-encoding", ""),
    ("user-agent", ""),
    ("vary", ""),
    ("via", ""),
    ("www-authenticate", ""),
];

/// One decoded header field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: Vec<u8>,
    pub value: Vec<u8>,
    /// Sent as "never indexed" (RFC 7541 6.2.3): a value its sender
    /// marked sensitive, such as a cookie or a credential.
    pub sensitive: bool,
}

impl Field {
    fn size(&self) -> usize {
        self.name.len() + self.value.len() + ENTRY_OVERHEAD
    }
}

/// Why a header block could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HpackError {
    #[error("the block ends inside a field (RFC 7541 5 and 6)")]
    Truncated,
    #[error("an integer does not fit in 32 bits (RFC 7541 5.1)")]
    IntegerOverflow,
    #[error("index 0 refers to no entry (RFC 7541 6.1)")]
    IndexZero,
    #[error(
        "index {index} is past the static table and the {dynamic} dynamic entries (RFC 7541 2.3.3)"
    )]
    IndexOutOfRange { index: u32, dynamic: usize },
    #[error("Huffman-coded string: {0}")]
    Huffman(#[from] HuffmanError),
    #[error(
        "a dynamic table size update to {size} bytes exceeds the {limit} the decoder allows (RFC 7541 6.3)"
    )]
    TableSizeOverLimit { size: u32, limit: usize },
    #[error("a dynamic table size update after the block's first field (RFC 7541 4.2)")]
    SizeUpdateNotFirst,
    #[error("the decoded fields exceed {MAX_LIST_SIZE} bytes")]
    ListTooLarge,
    #[error(
        "an earlier header block could not be decoded: the dynamic table is lost (RFC 9113 4.3)"
    )]
    Broken,
}

/// The mirror of one encoder's dynamic table.
#[derive(Debug)]
pub struct Decoder {
    /// Newest first (dynamic index 62 is `table[0]`).
    table: VecDeque<Field>,
    size: usize,
    /// The table's current maximum size (RFC 7541 4.2), as the last size
    /// update set it.
    max_size: usize,
    /// The largest maximum size the encoder may choose: the decoding
    /// side's SETTINGS_HEADER_TABLE_SIZE (RFC 9113 6.5.2).
    limit: usize,
    broken: bool,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder {
            table: VecDeque::new(),
            size: 0,
            max_size: DEFAULT_TABLE_SIZE,
            limit: DEFAULT_TABLE_SIZE,
            broken: false,
        }
    }
}

impl Decoder {
    /// The decoding side announced SETTINGS_HEADER_TABLE_SIZE `size`. A
    /// passive reader cannot tell when the encoder saw it, so the limit
    /// only grows: a smaller one is the encoder's to apply by a size update.
    pub fn allow_table_size(&mut self, size: u32) {
        self.limit = self.limit.max((size as usize).min(MAX_TABLE_SIZE));
    }

    /// A block went by undecoded (too large to hold): the table it would
    /// have changed is lost, as after a decoding error.
    pub fn lose(&mut self) {
        self.broken = true;
    }

    /// Whether an error has made later blocks undecodable.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Decodes one complete header block (a HEADERS or PUSH_PROMISE
    /// frame's fragment and its CONTINUATIONs) into `out`.
    pub fn decode(&mut self, block: &[u8], out: &mut Vec<Field>) -> Result<(), HpackError> {
        if self.broken {
            return Err(HpackError::Broken);
        }
        let result = self.decode_block(block, out);
        if result.is_err() {
            self.broken = true;
        }
        result
    }

    fn decode_block(&mut self, mut b: &[u8], out: &mut Vec<Field>) -> Result<(), HpackError> {
        let (mut fields, mut list_size) = (0usize, 0usize);
        while let Some(&first) = b.first() {
            let field = if first & 0x80 != 0 {
                // 6.1: indexed field.
                let index = integer(&mut b, 7)?;
                self.get(index)?.clone()
            } else if first & 0xc0 == 0x40 {
                // 6.2.1: literal with incremental indexing.
                let field = self.literal(&mut b, 6, false)?;
                self.insert(field.clone());
                field
            } else if first & 0xe0 == 0x20 {
                // 6.3: dynamic table size update, only before the first
                // field (4.2).
                if fields > 0 {
                    return Err(HpackError::SizeUpdateNotFirst);
                }
                let size = integer(&mut b, 5)?;
                self.resize(size)?;
                continue;
            } else {
                // 6.2.2 without indexing (0000), 6.2.3 never indexed (0001).
                self.literal(&mut b, 4, first & 0x10 != 0)?
            };
            fields += 1;
            list_size += field.size();
            if list_size > MAX_LIST_SIZE {
                return Err(HpackError::ListTooLarge);
            }
            out.push(field);
        }
        Ok(())
    }

    /// A literal field whose name is indexed (`prefix` bits) or literal.
    fn literal(&self, b: &mut &[u8], prefix: u8, sensitive: bool) -> Result<Field, HpackError> {
        let index = integer(b, prefix)?;
        let name = if index == 0 {
            string(b)?
        } else {
            self.get(index)?.name.clone()
        };
        Ok(Field {
            name,
            value: string(b)?,
            sensitive,
        })
    }

    /// Entry `index` of the static table (1-61) or the dynamic one (62-).
    fn get(&self, index: u32) -> Result<&Field, HpackError> {
        let i = index as usize;
        match i {
            0 => Err(HpackError::IndexZero),
            1..=61 => Ok(static_field(i)),
            _ => self.table.get(i - 62).ok_or(HpackError::IndexOutOfRange {
                index,
                dynamic: self.table.len(),
            }),
        }
    }

    /// RFC 7541 4.4: a new entry evicts the oldest until it fits; one
    /// larger than the whole table empties it and is not added.
    fn insert(&mut self, field: Field) {
        let size = field.size();
        self.evict_to(self.max_size.saturating_sub(size));
        if size <= self.max_size {
            self.size += size;
            self.table.push_front(field);
        }
    }

    /// RFC 7541 4.3 and 6.3.
    fn resize(&mut self, size: u32) -> Result<(), HpackError> {
        if size as usize > self.limit {
            return Err(HpackError::TableSizeOverLimit {
                size,
                limit: self.limit,
            });
        }
        self.max_size = size as usize;
        self.evict_to(self.max_size);
        Ok(())
    }

    fn evict_to(&mut self, room: usize) {
        while self.size > room {
            let Some(old) = self.table.pop_back() else {
                break;
            };
            self.size -= old.size();
        }
    }
}

/// Static table entries as fields, made once: an indexed static field is
/// cloned from here like a dynamic one.
fn static_field(i: usize) -> &'static Field {
    static FIELDS: std::sync::OnceLock<Vec<Field>> = std::sync::OnceLock::new();
    &FIELDS.get_or_init(|| {
        STATIC
            .iter()
            .map(|(n, v)| Field {
                name: n.as_bytes().to_vec(),
                value: v.as_bytes().to_vec(),
                sensitive: false,
            })
            .collect()
    })[i - 1]
}

/// RFC 7541 5.1: an integer with an N-bit prefix; the first byte's other
/// bits belong to the representation and are masked off.
fn integer(b: &mut &[u8], prefix: u8) -> Result<u32, HpackError> {
    let (&first, rest) = b.split_first().ok_or(HpackError::Truncated)?;
    *b = rest;
    let max = (1u32 << prefix) - 1;
    let mut value = u32::from(first) & max;
    if value < max {
        return Ok(value);
    }
    let mut shift = 0u32;
    loop {
        let (&byte, rest) = b.split_first().ok_or(HpackError::Truncated)?;
        *b = rest;
        let add = u64::from(byte & 0x7f) << shift;
        value = u32::try_from(u64::from(value) + add).map_err(|_| HpackError::IntegerOverflow)?;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
        shift += 7;
        if shift > 28 {
            return Err(HpackError::IntegerOverflow);
        }
    }
}

/// RFC 7541 5.2: a string literal, Huffman-coded or not.
fn string(b: &mut &[u8]) -> Result<Vec<u8>, HpackError> {
    let huffman = b.first().is_some_and(|&f| f & 0x80 != 0);
    let len = integer(b, 7)? as usize;
    if len > b.len() {
        return Err(HpackError::Truncated);
    }
    let (raw, rest) = b.split_at(len);
    *b = rest;
    if !huffman {
        return Ok(raw.to_vec());
    }
    let mut out = Vec::new();
    huffman::decode(raw, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests;
