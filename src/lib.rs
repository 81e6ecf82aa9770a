//! wscap: find out why WebSocket connections break, from packet captures.
//!
//! The analysis is a pipeline of push-based (sans-IO) stages: each takes
//! bytes or events and emits events, and knows nothing of output formats;
//! only the capture reader touches input (a file, a pipe, or any `Read`):
//!
//! ```text
//! capture reader -> packet decoder -> TCP reassembler -> HTTP upgrade
//!   -> WebSocket frame decoder/validator -> per-connection analysis
//!   -> diagnosis -> report writers
//! ```
//!
//! * [`capture`]: streaming pcap / pcapng / gzip reader yielding [`capture::PacketRef`]s.
//! * [`packet`]: link, IP and TCP headers of one captured packet -> [`packet::TcpSegment`].
//! * [`tcp`]: per-connection, per-direction reassembly into ordered bytes and gaps.
//! * [`http`]: the HTTP/1.1 Upgrade heads that open a WebSocket connection.
//! * [`websocket`]: frame headers, the incremental decoder, handshake checks, the validator.
//! * [`analyze`]: the per-connection analysis, in parts, producing [`record`]s.
//! * [`diagnosis`]: from a connection record to causes, evidence and fixes.
//! * [`diff`]: two captures compared connection by connection.
//! * [`record`]: the records and the [`record::Sink`] they go to.
//! * [`report`]: writers for the records.
//! * [`pipeline`]: wires the stages over a set of inputs.

pub mod analyze;
pub mod capture;
pub mod diagnosis;
pub mod diff;
pub mod finding;
pub mod handoff;
pub mod http;
pub mod http2;
pub mod packet;
pub mod pipeline;
pub mod prefetch;
pub mod record;
pub mod report;
#[cfg(any(test, feature = "synth"))]
pub mod synth;
pub mod tcp;
#[cfg(test)]
mod test_util;
pub mod text;
pub mod time;
pub mod tls;
pub mod websocket;
