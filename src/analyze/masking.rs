//! The masking verdict of one connection (RFC 6455 5.1).
//!
//! A client must mask every frame and a server none; a receiver that sees
//! otherwise must fail the connection (close 1002). Many servers tolerate
//! unmasked client frames instead (wstunnel, for one, never masks). Which
//! it was decides the severity: a frame with a masking violation, and the
//! frames after it from the same sender, are held until the receiver
//! reacts. Only a frame the receiver sent after it acknowledged the
//! violating bytes (RFC 9293 3.4: its ACK covers them) is a reaction; one
//! already in flight says nothing. A data or control frame after the
//! acknowledgment means it carried on, but an ACK may ride on frames
//! written before the bad bytes were read, so that verdict waits for the
//! receiver's close: a 1002/1007 close overturns it (error), another close,
//! the end of the connection or the hold limits confirm it (warning: the
//! deployment works but would break with a conforming peer). A
//! protocol-error close without carrying on, a bare TCP close or the end of
//! the capture keep the error; a 1002/1007 close after the verdict makes
//! later violations errors again.
//!
//! Held frames are kept shrunk to what they hold, at most [`MAX_HELD`] per
//! sender and within a [`HeldBudget`] shared by all connections; beyond
//! either, they are released with no verdict (the error stands).

use crate::finding::{Code, Severity};
use crate::record::{FrameRecord, PerDir};
use crate::tcp::Dir;

/// Most frames held per sender while waiting for the receiver's reaction.
pub(super) const MAX_HELD: usize = 64;

/// Bytes of held frames across all connections: 32,768 connections each
/// holding frames must not take gigabytes.
pub(super) const MAX_HELD_BYTES: usize = 10 << 20;

/// The bytes held frames take across all connections.
#[derive(Debug)]
pub(super) struct HeldBudget {
    pub used: usize,
    pub max: usize,
}

impl Default for HeldBudget {
    fn default() -> Self {
        HeldBudget {
            used: 0,
            max: MAX_HELD_BYTES,
        }
    }
}

fn is_masking(code: Code) -> bool {
    matches!(code, Code::UnmaskedClientFrame | Code::MaskedServerFrame)
}

/// What a held record costs: the record and what it owns on the heap.
fn cost(rec: &FrameRecord) -> usize {
    let findings: usize = rec
        .findings
        .iter()
        .map(|f| std::mem::size_of_val(f) + f.detail.capacity())
        .sum();
    std::mem::size_of::<FrameRecord>()
        + findings
        + rec.preview.capacity()
        + rec
            .close_reason
            .as_ref()
            .filter(|r| r.is_heap_allocated())
            .map_or(0, |r| r.capacity())
}

/// A copy of `rec` holding no spare capacity.
fn shrunk(rec: &FrameRecord) -> FrameRecord {
    let mut r = rec.clone();
    r.findings.shrink_to_fit();
    r.preview.shrink_to_fit();
    for f in &mut r.findings {
        f.detail.shrink_to_fit();
    }
    r
}

/// One connection's masking verdicts and held frames: nothing until its
/// first masking violation (most connections never have one).
#[derive(Default)]
pub(super) struct Masking(Option<Box<Verdicts>>);

#[derive(Default)]
struct Verdicts {
    /// Frames held, indexed by sender.
    held: PerDir<Vec<FrameRecord>>,
    /// Bytes held by this connection (its part of the budget).
    held_bytes: usize,
    /// Whether each sender's receiver tolerated its masking violations.
    tolerated: PerDir<Option<bool>>,
    /// Each sender's receiver sent frames after acknowledging the held
    /// violations: tolerated, unless its close says otherwise.
    carried_on: PerDir<bool>,
}

impl Masking {
    /// A finished frame: emitted now through `emit`, or held. A frame from
    /// the receiver of held frames is its reaction, and releases them first.
    /// `acked`: how much of the other direction the frame's sender had
    /// acknowledged when it sent it.
    pub fn frame(
        &mut self,
        rec: &mut FrameRecord,
        acked: Option<u64>,
        budget: &mut HeldBudget,
        emit: &mut impl FnMut(&mut FrameRecord),
    ) {
        match &mut self.0 {
            Some(v) => v.frame(rec, acked, budget, emit),
            None if rec.findings.iter().any(|f| is_masking(f.code)) => self
                .0
                .insert(Box::default())
                .frame(rec, acked, budget, emit),
            None => emit(rec),
        }
    }

    /// The connection ended: what is held goes out as tolerated if the
    /// receiver carried on, else with the error standing.
    pub fn finish(&mut self, budget: &mut HeldBudget, emit: &mut impl FnMut(&mut FrameRecord)) {
        if let Some(v) = &mut self.0 {
            for d in [Dir::ClientToServer, Dir::ServerToClient] {
                let verdict = v.carried_on.get(d).then_some(true);
                v.release(d, verdict, budget, emit);
            }
            debug_assert_eq!(v.held_bytes, 0, "the budget gets back all it lent");
        }
    }

    /// Frames held now, for tests.
    #[cfg(test)]
    pub fn held(&self, d: Dir) -> usize {
        self.0.as_ref().map_or(0, |v| v.held.get(d).len())
    }
}

impl Verdicts {
    fn frame(
        &mut self,
        rec: &mut FrameRecord,
        acked: Option<u64>,
        budget: &mut HeldBudget,
        emit: &mut impl FnMut(&mut FrameRecord),
    ) {
        let d = rec.dir;
        let peer = d.reverse();
        let rejected = rec.close_code.is_some_and(|c| c == 1002 || c == 1007);
        if self.reacts_to_held(peer, acked) {
            if rec.opcode == crate::websocket::Opcode::CLOSE {
                // RFC 6455 7.4.1: its close settles it.
                self.release(peer, Some(!rejected), budget, emit);
            } else {
                *self.carried_on.get_mut(peer) = true;
            }
        } else if rejected && *self.tolerated.get(peer) == Some(true) {
            // RFC 6455 7.4.1: it failed the connection after all.
            *self.tolerated.get_mut(peer) = Some(false);
        }
        let masking = rec.findings.iter().any(|f| is_masking(f.code));
        let holding = !self.held.get(d).is_empty();
        if (masking && self.tolerated.get(d).is_none()) || holding {
            // Charged what the kept copy takes, which is what its release
            // gives back (the original may have spare capacity).
            let copy = shrunk(rec);
            let c = cost(&copy);
            let held = self.held.get_mut(d);
            // Grown one record at a time, so `cost` is what it takes.
            held.reserve_exact(1);
            held.push(copy);
            self.held_bytes += c;
            budget.used += c;
            if self.held.get(d).len() > MAX_HELD || budget.used > budget.max {
                let verdict = self.carried_on.get(d).then_some(true);
                self.release(d, verdict, budget, emit);
            }
            return;
        }
        apply(rec, *self.tolerated.get(d));
        emit(rec);
    }

    /// Whether a frame from the receiver of `sender`'s held frames, sent
    /// having acknowledged `acked` bytes of them, is a reaction to them: it
    /// was sent after the first violating frame had arrived. Without
    /// acknowledgments to go by, any frame is taken as one.
    fn reacts_to_held(&self, sender: Dir, acked: Option<u64>) -> bool {
        let Some(first) = self.held.get(sender).first() else {
            return false;
        };
        let end = first
            .offset
            .saturating_add(u64::from(first.header_len))
            .saturating_add(first.payload_len);
        acked.is_none_or(|a| a >= end)
    }

    /// Emits the frames held for sender `d` with the receiver's verdict
    /// (`None`: no reaction seen).
    fn release(
        &mut self,
        d: Dir,
        tolerated: Option<bool>,
        budget: &mut HeldBudget,
        emit: &mut impl FnMut(&mut FrameRecord),
    ) {
        if tolerated.is_some() {
            *self.tolerated.get_mut(d) = tolerated;
        }
        *self.carried_on.get_mut(d) = false;
        let held = std::mem::take(self.held.get_mut(d));
        for mut rec in held {
            let c = cost(&rec);
            self.held_bytes -= c;
            budget.used -= c;
            apply(&mut rec, tolerated);
            emit(&mut rec);
        }
    }
}

/// A tolerated violation is a warning: the deployment works with this
/// receiver, and breaks with one that follows the RFC.
fn apply(rec: &mut FrameRecord, tolerated: Option<bool>) {
    if tolerated != Some(true) {
        return;
    }
    for f in rec.findings.iter_mut().filter(|f| is_masking(f.code)) {
        f.severity = Severity::Warning;
        f.detail.push_str(
            "; the receiver carried on, so it tolerates this, but a peer following RFC 6455 fails the connection (close 1002)",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Finding;

    fn frame(d: Dir, index: u64, unmasked: bool) -> FrameRecord {
        let mut f = FrameRecord::empty(0, d);
        f.index = index;
        // Spare capacity, as records built frame by frame have.
        f.preview = Vec::with_capacity(32);
        f.preview.extend_from_slice(b"hello");
        if unmasked {
            let mut detail = String::with_capacity(64);
            detail.push_str("text frame from the client without MASK");
            f.findings
                .push(Finding::new(Code::UnmaskedClientFrame, detail));
        }
        f
    }

    fn run(m: &mut Masking, b: &mut HeldBudget, f: FrameRecord) -> Vec<(Dir, u64, Severity)> {
        run_acked(m, b, f, None)
    }

    fn run_acked(
        m: &mut Masking,
        b: &mut HeldBudget,
        mut f: FrameRecord,
        acked: Option<u64>,
    ) -> Vec<(Dir, u64, Severity)> {
        let mut out = Vec::new();
        m.frame(&mut f, acked, b, &mut |r| {
            let sev = r.findings.first().map_or(Severity::Info, |f| f.severity);
            out.push((r.dir, r.index, sev));
        });
        out
    }

    const C: Dir = Dir::ClientToServer;
    const S: Dir = Dir::ServerToClient;

    fn close(d: Dir, index: u64, code: u16) -> FrameRecord {
        let mut f = frame(d, index, false);
        f.opcode = crate::websocket::Opcode::CLOSE;
        f.close_code = Some(code);
        f
    }

    /// The receiver answered after the violation and closed normally: it
    /// tolerates it (warning); its own frames are not held meanwhile.
    #[test]
    fn receiver_carrying_on_makes_a_warning() {
        let (mut m, mut b) = (Masking::default(), HeldBudget::default());
        assert!(run(&mut m, &mut b, frame(C, 0, true)).is_empty());
        assert!(run(&mut m, &mut b, frame(C, 1, false)).is_empty());
        assert_eq!(
            run(&mut m, &mut b, frame(S, 0, false)),
            [(S, 0, Severity::Info)]
        );
        assert_eq!(m.held(C), 2, "the verdict waits for the receiver's close");
        let out = run(&mut m, &mut b, close(S, 1, 1000));
        assert_eq!(
            out,
            [
                (C, 0, Severity::Warning),
                (C, 1, Severity::Info),
                (S, 1, Severity::Info)
            ]
        );
        assert_eq!(b.used, 0);
        // Known to tolerate: later violations are warnings at once.
        assert_eq!(
            run(&mut m, &mut b, frame(C, 2, true)),
            [(C, 2, Severity::Warning)]
        );
    }

    #[test]
    fn close_1002_keeps_the_error() {
        let (mut m, mut b) = (Masking::default(), HeldBudget::default());
        run(&mut m, &mut b, frame(C, 0, true));
        let out = run(&mut m, &mut b, close(S, 0, 1002));
        assert_eq!(out[0], (C, 0, Severity::Error));
    }

    /// A frame the receiver sent before it had the violating bytes is no
    /// reaction (RFC 9293 3.4: its ACK does not cover them); the close 1002
    /// it sends after is.
    #[test]
    fn frames_in_flight_are_no_reaction() {
        let (mut m, mut b) = (Masking::default(), HeldBudget::default());
        let mut bad = frame(C, 0, true);
        bad.offset = 100;
        bad.header_len = 2;
        bad.payload_len = 25;
        assert!(run_acked(&mut m, &mut b, bad, Some(100)).is_empty());
        let in_flight = run_acked(&mut m, &mut b, frame(S, 5, false), Some(100));
        assert_eq!(in_flight, [(S, 5, Severity::Info)]);
        assert_eq!(m.held(C), 1, "still waiting for a reaction");
        let out = run_acked(&mut m, &mut b, close(S, 6, 1002), Some(127));
        assert_eq!(out, [(C, 0, Severity::Error), (S, 6, Severity::Info)]);
    }

    /// Frames after the acknowledgment (written, maybe, before the bad
    /// bytes were read) and then a 1002 close: the close overturns them.
    #[test]
    fn a_later_protocol_error_close_overturns_carrying_on() {
        let (mut m, mut b) = (Masking::default(), HeldBudget::default());
        run(&mut m, &mut b, frame(C, 0, true));
        run(&mut m, &mut b, frame(S, 0, false));
        let out = run(&mut m, &mut b, close(S, 1, 1002));
        assert_eq!(out[0], (C, 0, Severity::Error));
        // Carried on and never closed: tolerated when the connection ends.
        let (mut m, mut b) = (Masking::default(), HeldBudget::default());
        run(&mut m, &mut b, frame(C, 0, true));
        run(&mut m, &mut b, frame(S, 0, false));
        let mut out = Vec::new();
        m.finish(&mut b, &mut |r| out.push(r.findings[0].severity));
        assert_eq!(out, [Severity::Warning]);
    }

    #[test]
    fn per_sender_and_global_caps_release_without_verdict() {
        let (mut m, mut b) = (Masking::default(), HeldBudget::default());
        let mut emitted = 0;
        for i in 0..=MAX_HELD as u64 {
            emitted += run(&mut m, &mut b, frame(C, i, true)).len();
        }
        assert_eq!((emitted, m.held(C)), (MAX_HELD + 1, 0));

        // Whatever was held is given back in full.
        let (mut m, mut b) = (Masking::default(), HeldBudget::default());
        for i in 0..10 {
            run(&mut m, &mut b, frame(C, i, true));
        }
        assert!(b.used > 0);
        m.finish(&mut b, &mut |_| {});
        assert_eq!(b.used, 0, "budget leaked");

        let mut b = HeldBudget { used: 0, max: 1 };
        let mut m = Masking::default();
        let out = run(&mut m, &mut b, frame(C, 0, true));
        assert_eq!(out, [(C, 0, Severity::Error)]);
        assert_eq!(b.used, 0);
    }
}
