//! WebSocket frames: the header type and parser ([`frame`]) and the
//! incremental per-direction decoder ([`decoder`]).

pub mod decoder;
pub mod frame;
pub mod handshake;
pub mod kept;
pub mod validate;

pub use decoder::{DecodeEvent, Expect, ForeignKind, FrameDecoder, FrameEnd, FrameStart, SyncLoss};
pub use frame::{FrameHeader, LengthForm, Opcode};
