//! HTTP/2 (RFC 9113) as far as WebSocket needs it: RFC 8441 carries a
//! WebSocket in one HTTP/2 stream, opened by an extended CONNECT request
//! (`:protocol: websocket`) and answered by a 2xx, its frames in that
//! stream's DATA frames.
//!
//! - [`frame`]: the frame header, types, flags, SETTINGS entries (parsing
//!   only, no state).
//! - [`huffman`] and [`hpack`]: header block decoding (RFC 7541).
//! - [`conn`]: one connection's two byte streams in, events out: frames,
//!   settings, decoded header blocks, DATA payloads, stream resets.

pub mod conn;
pub mod frame;
pub mod hpack;
pub mod huffman;

pub use conn::{Event, H2Conn, H2Error};
