//! Wireshark display filters for what the human formats show, so a person
//! can paste them into Wireshark's filter bar.
//!
//! `tcp.stream` is Wireshark's index of TCP conversations in the order of
//! their first packet, which is how wscap numbers `conn` (both count from
//! 0); `frame.number` is the 1-based packet number wscap reports.

/// The display filter selecting connection `conn`: `tcp.stream eq N`.
pub fn conn_filter(conn: u64) -> String {
    format!("tcp.stream eq {conn}")
}

/// The display filter selecting packet `packet`: `frame.number == N`.
pub fn packet_filter(packet: u64) -> String {
    format!("frame.number == {packet}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        assert_eq!(conn_filter(0), "tcp.stream eq 0");
        assert_eq!(conn_filter(96), "tcp.stream eq 96");
        assert_eq!(packet_filter(8), "frame.number == 8");
    }
}
