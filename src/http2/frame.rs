//! HTTP/2 frames (RFC 9113 section 4 and 6): the 9-byte header, the frame
//! types and flags, and the payloads wscap reads, each parsed from bytes
//! into a type with no connection state.

/// RFC 9113 3.4: the client's connection preface.
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// RFC 9113 4.1: every frame starts with 9 bytes.
pub const HEADER_LEN: usize = 9;

/// RFC 9113 4.2: SETTINGS_MAX_FRAME_SIZE's initial value, and its largest.
pub const DEFAULT_MAX_FRAME: u32 = 1 << 14;
pub const LARGEST_MAX_FRAME: u32 = (1 << 24) - 1;

pub mod flags {
    /// DATA, HEADERS: the sender's last frame on the stream.
    pub const END_STREAM: u8 = 0x1;
    /// SETTINGS, PING: the answer.
    pub const ACK: u8 = 0x1;
    /// HEADERS, PUSH_PROMISE, CONTINUATION: the header block is complete.
    pub const END_HEADERS: u8 = 0x4;
    /// DATA, HEADERS, PUSH_PROMISE: a pad length byte and padding.
    pub const PADDED: u8 = 0x8;
    /// HEADERS: an exclusive flag, stream dependency and weight.
    pub const PRIORITY: u8 = 0x20;
}

/// RFC 9113 6 (and 11.2's registry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Data,
    Headers,
    Priority,
    RstStream,
    Settings,
    PushPromise,
    Ping,
    GoAway,
    WindowUpdate,
    Continuation,
    /// RFC 9113 4.1: unknown types are ignored.
    Unknown(u8),
}

impl Kind {
    pub fn from_u8(t: u8) -> Kind {
        match t {
            0 => Kind::Data,
            1 => Kind::Headers,
            2 => Kind::Priority,
            3 => Kind::RstStream,
            4 => Kind::Settings,
            5 => Kind::PushPromise,
            6 => Kind::Ping,
            7 => Kind::GoAway,
            8 => Kind::WindowUpdate,
            9 => Kind::Continuation,
            t => Kind::Unknown(t),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Data => "DATA",
            Kind::Headers => "HEADERS",
            Kind::Priority => "PRIORITY",
            Kind::RstStream => "RST_STREAM",
            Kind::Settings => "SETTINGS",
            Kind::PushPromise => "PUSH_PROMISE",
            Kind::Ping => "PING",
            Kind::GoAway => "GOAWAY",
            Kind::WindowUpdate => "WINDOW_UPDATE",
            Kind::Continuation => "CONTINUATION",
            Kind::Unknown(_) => "unknown",
        }
    }
}

/// RFC 9113 4.1: a frame's header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// The payload's length (24 bits).
    pub len: u32,
    pub kind: Kind,
    pub flags: u8,
    /// The stream (31 bits; the reserved bit is ignored on receipt).
    pub stream: u32,
}

impl FrameHeader {
    pub fn parse(b: &[u8; HEADER_LEN]) -> FrameHeader {
        FrameHeader {
            len: u32::from_be_bytes([0, b[0], b[1], b[2]]),
            kind: Kind::from_u8(b[3]),
            flags: b[4],
            stream: u32::from_be_bytes([b[5], b[6], b[7], b[8]]) & 0x7fff_ffff,
        }
    }

    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// The rules of RFC 9113 6 that the header alone breaks: the stream a
    /// type must (not) be on, and fixed payload lengths. `max_frame` is the
    /// receiver's SETTINGS_MAX_FRAME_SIZE.
    pub fn check(&self, max_frame: u32) -> Result<(), FrameError> {
        use Kind::*;
        if self.len > max_frame {
            return Err(FrameError::TooLarge {
                kind: self.kind.name(),
                len: self.len,
                max: max_frame,
            });
        }
        let on_stream = matches!(
            self.kind,
            Data | Headers | Priority | RstStream | PushPromise | Continuation
        );
        let on_connection = matches!(self.kind, Settings | Ping | GoAway);
        if on_stream && self.stream == 0 || on_connection && self.stream != 0 {
            return Err(FrameError::WrongStream {
                kind: self.kind.name(),
                stream: self.stream,
            });
        }
        let fixed = match self.kind {
            Priority => Some(5),
            RstStream | WindowUpdate => Some(4),
            Ping => Some(8),
            Settings if self.has(flags::ACK) => Some(0),
            _ => None,
        };
        let bad_len = match (self.kind, fixed) {
            (_, Some(n)) => self.len != n,
            (Settings, None) => !self.len.is_multiple_of(6),
            (GoAway, None) => self.len < 8,
            _ => false,
        };
        if bad_len {
            return Err(FrameError::BadLength {
                kind: self.kind.name(),
                len: self.len,
            });
        }
        Ok(())
    }
}

/// A frame that breaks RFC 9113 (a connection error there: the receiver
/// ends the connection, so what follows is read on a best-effort basis).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("{kind} frame of {len} bytes, over SETTINGS_MAX_FRAME_SIZE {max} (RFC 9113 4.2)")]
    TooLarge {
        kind: &'static str,
        len: u32,
        max: u32,
    },
    #[error("{kind} frame on stream {stream}: not allowed there (RFC 9113 6)")]
    WrongStream { kind: &'static str, stream: u32 },
    #[error("{kind} frame with a {len}-byte payload: wrong length for the type (RFC 9113 6)")]
    BadLength { kind: &'static str, len: u32 },
    #[error("the padding is as long as the payload or longer (RFC 9113 6.1)")]
    Padding,
    #[error("a {kind} frame where a CONTINUATION of stream {stream} was due (RFC 9113 6.10)")]
    ContinuationExpected { kind: &'static str, stream: u32 },
    #[error("a CONTINUATION frame with no header block open (RFC 9113 6.10)")]
    ContinuationUnexpected,
    #[error("the client's first bytes are not the HTTP/2 connection preface (RFC 9113 3.4)")]
    BadPreface,
    #[error("the server's first frame is not SETTINGS (RFC 9113 3.4)")]
    NoServerSettings,
    #[error("SETTINGS {name} = {value}: out of range (RFC 9113 6.5.2)")]
    BadSetting { name: &'static str, value: u32 },
}

/// RFC 9113 6.1, 6.2: a payload less its padding (and, for HEADERS with
/// PRIORITY, the 5 priority bytes): what is left of `payload`.
pub fn unpad(h: &FrameHeader, payload: &[u8]) -> Result<(usize, usize), FrameError> {
    let (mut start, mut end) = (0, payload.len());
    if h.has(flags::PADDED) {
        let pad = usize::from(*payload.first().ok_or(FrameError::Padding)?);
        start = 1;
        end = end
            .checked_sub(pad)
            .filter(|&e| e >= start)
            .ok_or(FrameError::Padding)?;
    }
    if h.kind == Kind::Headers && h.has(flags::PRIORITY) {
        start += 5;
        if start > end {
            return Err(FrameError::BadLength {
                kind: "HEADERS",
                len: h.len,
            });
        }
    }
    Ok((start, end))
}

/// RFC 9113 6.5.2 and RFC 8441 3: the settings wscap keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    HeaderTableSize(u32),
    EnablePush(u32),
    MaxConcurrentStreams(u32),
    InitialWindowSize(u32),
    MaxFrameSize(u32),
    MaxHeaderListSize(u32),
    /// RFC 8441 3: the sender accepts extended CONNECT (`:protocol`).
    EnableConnectProtocol(u32),
    /// RFC 9113 6.5.2: unknown identifiers are ignored.
    Unknown(u16, u32),
}

impl Setting {
    /// One 6-byte entry, range-checked as RFC 9113 6.5.2 and RFC 8441 3
    /// require.
    pub fn parse(b: &[u8; 6]) -> Result<Setting, FrameError> {
        let id = u16::from_be_bytes([b[0], b[1]]);
        let v = u32::from_be_bytes([b[2], b[3], b[4], b[5]]);
        let bad = |name| Err(FrameError::BadSetting { name, value: v });
        Ok(match id {
            1 => Setting::HeaderTableSize(v),
            2 if v > 1 => return bad("SETTINGS_ENABLE_PUSH"),
            2 => Setting::EnablePush(v),
            3 => Setting::MaxConcurrentStreams(v),
            4 if v > 0x7fff_ffff => return bad("SETTINGS_INITIAL_WINDOW_SIZE"),
            4 => Setting::InitialWindowSize(v),
            5 if !(DEFAULT_MAX_FRAME..=LARGEST_MAX_FRAME).contains(&v) => {
                return bad("SETTINGS_MAX_FRAME_SIZE");
            }
            5 => Setting::MaxFrameSize(v),
            6 => Setting::MaxHeaderListSize(v),
            8 if v > 1 => return bad("SETTINGS_ENABLE_CONNECT_PROTOCOL"),
            8 => Setting::EnableConnectProtocol(v),
            id => Setting::Unknown(id, v),
        })
    }
}

/// RFC 9113 7: error codes, by name.
pub fn error_name(code: u32) -> &'static str {
    match code {
        0x0 => "NO_ERROR",
        0x1 => "PROTOCOL_ERROR",
        0x2 => "INTERNAL_ERROR",
        0x3 => "FLOW_CONTROL_ERROR",
        0x4 => "SETTINGS_TIMEOUT",
        0x5 => "STREAM_CLOSED",
        0x6 => "FRAME_SIZE_ERROR",
        0x7 => "REFUSED_STREAM",
        0x8 => "CANCEL",
        0x9 => "COMPRESSION_ERROR",
        0xa => "CONNECT_ERROR",
        0xb => "ENHANCE_YOUR_CALM",
        0xc => "INADEQUATE_SECURITY",
        0xd => "HTTP_1_1_REQUIRED",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(len: u32, kind: u8, flags: u8, stream: u32) -> FrameHeader {
        let l = len.to_be_bytes();
        let s = stream.to_be_bytes();
        FrameHeader::parse(&[l[1], l[2], l[3], kind, flags, s[0], s[1], s[2], s[3]])
    }

    #[test]
    fn parses_the_nine_bytes() {
        let h = header(0x01_0203, 1, 0x25, 0x8000_0007);
        assert_eq!(h.len, 0x01_0203);
        assert_eq!(h.kind, Kind::Headers);
        assert!(h.has(flags::END_STREAM) && h.has(flags::END_HEADERS) && h.has(flags::PRIORITY));
        // The reserved bit is ignored.
        assert_eq!(h.stream, 7);
        assert_eq!(header(0, 0xfa, 0, 0).kind, Kind::Unknown(0xfa));
    }

    #[test]
    fn header_rules() {
        assert!(header(16_384, 0, 0, 1).check(DEFAULT_MAX_FRAME).is_ok());
        assert!(matches!(
            header(16_385, 0, 0, 1).check(DEFAULT_MAX_FRAME),
            Err(FrameError::TooLarge { .. })
        ));
        assert!(header(16_385, 0, 0, 1).check(1 << 20).is_ok());
        assert!(matches!(
            header(0, 0, 0, 0).check(DEFAULT_MAX_FRAME),
            Err(FrameError::WrongStream { .. })
        ));
        assert!(matches!(
            header(6, 4, 0, 1).check(DEFAULT_MAX_FRAME),
            Err(FrameError::WrongStream { .. })
        ));
        assert!(matches!(
            header(7, 4, 0, 0).check(DEFAULT_MAX_FRAME),
            Err(FrameError::BadLength { .. })
        ));
        assert!(matches!(
            header(6, 4, flags::ACK, 0).check(DEFAULT_MAX_FRAME),
            Err(FrameError::BadLength { .. })
        ));
        assert!(matches!(
            header(4, 6, 0, 0).check(DEFAULT_MAX_FRAME),
            Err(FrameError::BadLength { .. })
        ));
        assert!(matches!(
            header(7, 7, 0, 0).check(DEFAULT_MAX_FRAME),
            Err(FrameError::BadLength { .. })
        ));
        // WINDOW_UPDATE is allowed on both.
        assert!(header(4, 8, 0, 0).check(DEFAULT_MAX_FRAME).is_ok());
        assert!(header(4, 8, 0, 3).check(DEFAULT_MAX_FRAME).is_ok());
    }

    #[test]
    fn padding_and_priority() {
        let h = header(10, 0, flags::PADDED, 1);
        assert_eq!(
            unpad(&h, &[3, b'a', b'b', b'c', b'd', b'e', b'f', 0, 0, 0]),
            Ok((1, 7))
        );
        assert_eq!(unpad(&h, &[9, 0, 0, 0, 0, 0, 0, 0, 0, 0]), Ok((1, 1)));
        assert_eq!(
            unpad(&h, &[10, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            Err(FrameError::Padding)
        );
        assert_eq!(unpad(&h, &[]), Err(FrameError::Padding));
        let h = header(8, 1, flags::PRIORITY | flags::PADDED, 1);
        assert_eq!(unpad(&h, &[1, 0, 0, 0, 3, 16, 0x82, 0]), Ok((6, 7)));
        let h = header(3, 1, flags::PRIORITY, 1);
        assert!(unpad(&h, &[0, 0, 0]).is_err());
    }

    #[test]
    fn settings() {
        assert_eq!(
            Setting::parse(&[0, 8, 0, 0, 0, 1]),
            Ok(Setting::EnableConnectProtocol(1))
        );
        assert!(Setting::parse(&[0, 8, 0, 0, 0, 2]).is_err());
        assert!(Setting::parse(&[0, 5, 0, 0, 0x3f, 0xff]).is_err());
        assert_eq!(
            Setting::parse(&[0, 5, 0, 0, 0x40, 0]),
            Ok(Setting::MaxFrameSize(16_384))
        );
        assert_eq!(
            Setting::parse(&[0, 1, 0, 0, 0x10, 0]),
            Ok(Setting::HeaderTableSize(4096))
        );
        assert_eq!(
            Setting::parse(&[0xab, 0xcd, 0, 0, 0, 9]),
            Ok(Setting::Unknown(0xabcd, 9))
        );
        assert_eq!(error_name(0xd), "HTTP_1_1_REQUIRED");
    }
}
