use super::*;

fn field(n: &str, v: &str) -> Field {
    Field {
        name: n.as_bytes().to_vec(),
        value: v.as_bytes().to_vec(),
        sensitive: false,
    }
}

#[test]
fn prefaces() {
    assert!(starts_preface(
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04"
    ));
    // A first segment cut short still counts, from four bytes on.
    assert!(starts_preface(b"PRI "));
    assert!(!starts_preface(b"PRI"));
    assert!(!starts_preface(b"PRIVMSG #chan"));
    assert!(!starts_preface(b"GET / HTTP/1.1\r\n"));
    // The server's first SETTINGS: 0, 6 or 42 bytes, stream 0, no ACK.
    assert!(starts_server_preface(&[0, 0, 0, 4, 0, 0, 0, 0, 0]));
    assert!(starts_server_preface(&[0, 0, 42, 4, 0, 0, 0, 0, 0, 0]));
    assert!(!starts_server_preface(&[0, 0, 0, 4, 1, 0, 0, 0, 0]));
    assert!(!starts_server_preface(&[0, 0, 7, 4, 0, 0, 0, 0, 0]));
    assert!(!starts_server_preface(&[0, 0, 6, 4, 0, 0, 0, 0]));
    assert!(!starts_server_preface(b"HTTP/1.1 200 OK\r\n"));
}

#[test]
fn repeated_fields_are_joined() {
    let fields = [
        field("sec-websocket-protocol", "chat"),
        field(":path", "/x"),
        field("sec-websocket-protocol", "superchat"),
    ];
    assert_eq!(
        header(&fields, "sec-websocket-protocol").as_deref(),
        Some("chat, superchat")
    );
    assert_eq!(header(&fields, ":path").as_deref(), Some("/x"));
    assert_eq!(header(&fields, "origin"), None);
}

#[test]
fn connection_specific_fields() {
    let fields = [
        field("upgrade", "websocket"),
        field("connection", "Upgrade"),
        field("te", "trailers"),
        field("upgrade", "websocket"),
        field("keep-alive", "5"),
    ];
    assert_eq!(
        connection_specific(&fields),
        ["upgrade", "connection", "keep-alive"]
    );
    // RFC 9113 8.2.2: TE is allowed with "trailers" only.
    assert_eq!(connection_specific(&[field("te", "gzip")]), ["te"]);
    assert!(connection_specific(&[field(":status", "200")]).is_empty());
}

fn streams() -> Streams {
    let cfg = FrameConfig {
        deflate: None,
        max_payload: None,
        max_inflated: 1 << 20,
        preview: 0,
        extensions_unknown: false,
    };
    H2Part::new(0, cfg).streams
}

/// RFC 8441 3: the setting starts at 0, and a 1 cannot be taken back.
#[test]
fn enable_connect_protocol() {
    let mut s = streams();
    s.server_settings(&[Setting::MaxFrameSize(16_384)]);
    assert_eq!(s.info.connect_protocol_enabled, Some(false));
    s.server_settings(&[Setting::EnableConnectProtocol(1)]);
    assert_eq!(s.info.connect_protocol_enabled, Some(true));
    s.server_settings(&[Setting::EnableConnectProtocol(0)]);
    assert_eq!(s.info.connect_protocol_enabled, Some(true));
    let mut s = streams();
    s.server_settings(&[Setting::EnableConnectProtocol(0)]);
    assert_eq!(s.info.connect_protocol_enabled, Some(false));
}
