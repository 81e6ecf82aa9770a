//! wscap: find out why WebSocket connections break, from packet captures.
//!
//! The analysis is a pipeline of push-based (sans-IO) stages; each one is a
//! state machine that takes bytes or events and emits events, and knows
//! nothing of files or output formats:
//!
//! ```text
//! capture reader -> packet decoder -> TCP reassembler -> HTTP upgrade
//!   -> WebSocket frame decoder/validator -> (diagnosis) -> report writers
//! ```
//!
//! * [`capture`]: streaming pcap / pcapng / gzip reader yielding [`capture::PacketRef`]s.
//! * [`packet`]: link, IP and TCP headers of one captured packet -> [`packet::TcpSegment`].
//! * [`tcp`]: per-connection, per-direction reassembly into ordered bytes and gaps.
//! * [`http`]: the HTTP/1.1 Upgrade heads that open a WebSocket connection.
//! * [`websocket`]: incremental frame-header decoding over a reassembled direction.
//! * [`analyze`]: wires the stages together and produces [`record`]s.
//! * [`report`]: writers for the records.

pub mod analyze;
pub mod capture;
pub mod diagnosis;
pub mod finding;
pub mod http;
pub mod packet;
pub mod pipeline;
pub mod record;
pub mod report;
#[cfg(any(test, feature = "synth"))]
pub mod synth;
pub mod tcp;
pub mod time;
pub mod websocket;
