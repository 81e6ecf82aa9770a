//! Wireshark display filters for what wscap reports, so a finding is one
//! paste away from its packets.
//!
//! A connection is selected by `tcp.stream eq N`, where N is its `conn`:
//! wscap numbers connections in order of their first packet, as Wireshark
//! numbers TCP conversations, and `tests/wireshark.rs` checks the two
//! agree on every capture in the repository against a table tshark made
//! (`tests/tshark_streams.tsv`). Where wscap cannot vouch for the number
//! (several files merged, or something in the capture Wireshark may count
//! as a conversation and wscap does not; see `ConnMeta::wireshark_numbered`)
//! the connection is selected by its addresses and ports instead.
//! A packet is selected by `frame.number == N`.

use crate::text::Text;
use compact_str::ToCompactString;
use std::net::{IpAddr, SocketAddr};

/// The filter for connection `conn` by Wireshark's TCP stream index.
/// Held inline, not allocated, as every connection record has one.
pub fn conn_filter(conn: u64) -> Text {
    let mut f = Text::const_new("tcp.stream eq ");
    f.push_str(&conn.to_compact_string());
    f
}

/// The filter for the connection between `a` and `b` by addresses and
/// ports. It selects every connection on that pair of endpoints (a 4-tuple
/// reused after close included).
pub fn endpoints_filter(a: SocketAddr, b: SocketAddr) -> String {
    let field = |ip: IpAddr| match ip {
        IpAddr::V4(_) => "ip.addr",
        IpAddr::V6(_) => "ipv6.addr",
    };
    let mut parts = vec![format!("{}=={}", field(a.ip()), a.ip())];
    parts.push(format!("tcp.port=={}", a.port()));
    if b.ip() != a.ip() {
        parts.push(format!("{}=={}", field(b.ip()), b.ip()));
    }
    if b.port() != a.port() {
        parts.push(format!("tcp.port=={}", b.port()));
    }
    parts.join(" && ")
}

/// The filter for capture packet `packet` (1-based, as Wireshark numbers
/// frames; every record's `packet` fields).
pub fn frame_filter(packet: u64) -> String {
    format!("frame.number == {packet}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(conn_filter(3), "tcp.stream eq 3");
        assert_eq!(frame_filter(12), "frame.number == 12");
        let a: SocketAddr = "10.0.0.1:51000".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:80".parse().unwrap();
        assert_eq!(
            endpoints_filter(a, b),
            "ip.addr==10.0.0.1 && tcp.port==51000 && ip.addr==10.0.0.2 && tcp.port==80"
        );
        let lo: SocketAddr = "127.0.0.1:80".parse().unwrap();
        let lo2: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        assert_eq!(
            endpoints_filter(lo2, lo),
            "ip.addr==127.0.0.1 && tcp.port==4000 && tcp.port==80"
        );
        let v6: SocketAddr = "[::1]:80".parse().unwrap();
        let v6b: SocketAddr = "[::1]:5000".parse().unwrap();
        assert_eq!(
            endpoints_filter(v6b, v6),
            "ipv6.addr==::1 && tcp.port==5000 && tcp.port==80"
        );
    }
}
