//! WebSocket (RFC 6455): the opening handshake's checks ([`handshake`]), the
//! frame header and its parser ([`frame`]), the incremental per-direction
//! frame decoder ([`decoder`]), the heuristics that tell frames from other
//! bytes and find frames again after a loss of sync ([`resync`]), bytes kept
//! while their meaning is not known yet ([`kept`]), and the protocol
//! validator that follows the decoder ([`validate`]).

pub mod decoder;
pub mod frame;
pub mod handshake;
pub mod kept;
pub mod resync;
pub mod validate;

pub use decoder::{DecodeEvent, FrameDecoder, FrameEnd, FrameStart, SyncLoss};
pub use frame::{FrameHeader, LengthForm, Opcode};
pub use resync::{Expect, ForeignKind};
