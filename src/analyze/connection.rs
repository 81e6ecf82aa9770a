//! The connection record with its totals: what one connection's frames and
//! findings add up to, gathered while it is analysed and written when it
//! ends.
//!
//! Gaps and retransmission conflicts are tallied per direction and reported
//! once per connection rather than once per packet (a small snaplen cuts
//! every packet). Connection-level findings are capped per code: a hostile
//! stream can repeat foreign bytes or resyncs without end.

use super::Totals;
use super::upgrade::Upgrade;
use crate::diagnosis::{self, CloseEvidence, Evidence, FrameEvidence};
use crate::finding::{Code, Finding, Severity};
use crate::record::{
    CloseCodes, ConnectionRecord, Counts, DeflateInfo, FrameRecord, NegotiatedInfo, PerDir, Roles,
    TcpDirInfo, wireshark,
};
use crate::tcp::{CloseReason, ConnMeta, Dir, GapReason, RoleSource};
use crate::text::Text;
use crate::time::Timestamp;
use crate::websocket::handshake::Negotiated;

/// Connection-level findings kept per code; beyond it they are only counted.
const MAX_FINDINGS_PER_CODE: usize = 8;

/// Gap and conflict tallies of one direction.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Tally {
    count: u64,
    bytes: u64,
    first_packet: u64,
    first_offset: u64,
}

impl Tally {
    pub fn add(&mut self, bytes: u64, packet: u64, offset: u64) {
        if self.count == 0 {
            self.first_packet = packet;
            self.first_offset = offset;
        }
        self.count += 1;
        self.bytes += bytes;
    }
}

/// Missing bytes by reason, and retransmission conflicts, per direction.
#[derive(Default)]
struct Tallies {
    lost: PerDir<Tally>,
    snaplen: PerDir<Tally>,
    memcap: PerDir<Tally>,
    conflicts: PerDir<Tally>,
}

impl Tallies {
    fn gaps(&self, reason: GapReason) -> &PerDir<Tally> {
        match reason {
            GapReason::Lost => &self.lost,
            GapReason::Memcap => &self.memcap,
            GapReason::Snaplen => &self.snaplen,
        }
    }
}

/// What every frame of a connection updates, kept together: a busy capture
/// interleaves the frames of many connections, each frame finds its
/// connection's state out of the cache, and fields apart cost a cache miss
/// each.
#[derive(Default)]
struct FrameTotals {
    frames: PerDir<u64>,
    payload_bytes: PerDir<u64>,
    last_ts: Option<Timestamp>,
}

/// Counts and findings of one connection.
#[derive(Default)]
pub(super) struct ConnAcc {
    per_frame: FrameTotals,
    findings: Vec<Finding>,
    /// Findings beyond the per-code cap: (code, severity, how many).
    dropped: Vec<(Code, Severity, u64)>,
    by_code: Counts<Code>,
    by_severity: Counts<Severity>,
    /// Gaps and conflicts, when there are any (most connections have none:
    /// their state stays small).
    tallies: Option<Box<Tallies>>,
    close_codes: PerDir<CloseCodes>,
    /// The first frame showing each finding code (and what the upgrade
    /// saw), for the diagnosis.
    evidence: Evidence,
    /// Set while the connection is being closed: what ends frames cut short.
    pub ending: Option<CloseReason>,
}

impl ConnAcc {
    /// Adds a connection-level finding, keeping at most
    /// [`MAX_FINDINGS_PER_CODE`] of a code and counting the rest.
    pub fn add(&mut self, f: Finding) {
        if self.findings.iter().filter(|k| k.code == f.code).count() < MAX_FINDINGS_PER_CODE {
            self.findings.push(f);
        } else if let Some(d) = self
            .dropped
            .iter_mut()
            .find(|d| d.0 == f.code && d.1 == f.severity)
        {
            d.2 += 1;
        } else {
            self.dropped.push((f.code, f.severity, 1));
        }
    }

    /// Adds findings past the cap (the handshake's, a bounded few).
    pub fn extend_unbounded(&mut self, fs: Vec<Finding>) {
        self.findings.extend(fs);
    }

    /// Bytes missing for `reason` in direction `d`.
    pub fn gap(&mut self, reason: GapReason, d: Dir, len: u64, packet: u64, offset: u64) {
        let t = self.tallies.get_or_insert_default();
        let t = match reason {
            GapReason::Lost => &mut t.lost,
            GapReason::Memcap => &mut t.memcap,
            GapReason::Snaplen => &mut t.snaplen,
        };
        t.get_mut(d).add(len, packet, offset);
    }

    /// A retransmission in direction `d` carried different bytes.
    pub fn conflict(&mut self, d: Dir, len: u64, packet: u64, offset: u64) {
        let t = self.tallies.get_or_insert_default();
        t.conflicts.get_mut(d).add(len, packet, offset);
    }

    pub fn frame_started(&mut self, d: Dir, payload_len: u64) {
        *self.per_frame.frames.get_mut(d) += 1;
        // Saturating: hostile headers announce lengths near 2^64.
        let total = self.per_frame.payload_bytes.get_mut(d);
        *total = total.saturating_add(payload_len);
    }

    /// A close frame from `d`. A few close codes tell the story
    /// ([`CloseCodes`] keeps the first few). The first close of each side
    /// is kept for the diagnosis, with or without a code.
    pub fn close_frame(&mut self, d: Dir, code: Option<u16>, packet: u64) {
        if let Some(code) = code {
            self.close_codes.get_mut(d).push(code);
        }
        self.evidence
            .closes
            .get_mut(d)
            .get_or_insert(CloseEvidence { code, packet });
    }

    /// A frame record was written: its findings count on this connection,
    /// and the first frame showing each code is kept for the diagnosis.
    /// Inlined as far as a frame without findings goes (nearly every one):
    /// the call cost as much as the work.
    #[inline]
    pub fn frame_written(&mut self, rec: &FrameRecord) {
        self.per_frame.last_ts = self.per_frame.last_ts.max(Some(rec.ts));
        if !rec.findings.is_empty() {
            self.frame_findings(rec);
        }
    }

    /// The findings of a frame record written.
    fn frame_findings(&mut self, rec: &FrameRecord) {
        for f in &rec.findings {
            self.note(f);
            if !self.evidence.frames.iter().any(|e| e.code == f.code) {
                // Usually one code per connection: no room kept for more.
                self.evidence.frames.reserve_exact(1);
                self.evidence.frames.push(FrameEvidence {
                    code: f.code,
                    packet: rec.packet,
                    dir: rec.dir,
                    detail: f.detail.clone(),
                });
            }
        }
    }

    fn note(&mut self, f: &Finding) {
        self.by_code.add(f.code, 1);
        self.by_severity.add(f.severity, 1);
    }

    /// Connection-level findings for the gap and conflict tallies.
    fn tally_findings(&mut self) {
        let Some(tallies) = self.tallies.take() else {
            return;
        };
        for d in [Dir::ClientToServer, Dir::ServerToClient] {
            let dir = d.as_str();
            for reason in [GapReason::Lost, GapReason::Memcap, GapReason::Snaplen] {
                let t = *tallies.gaps(reason).get(d);
                if t.count > 0 {
                    let (code, why) = super::frames::gap_finding(reason);
                    let detail = format!(
                        "{dir}: {} bytes {why} in {} place(s), first at stream offset {}",
                        t.bytes, t.count, t.first_offset
                    );
                    self.add(Finding::new(code, detail).at(t.first_packet));
                }
            }
            let t = *tallies.conflicts.get(d);
            if t.count > 0 {
                let detail = format!(
                    "{dir}: {} retransmission(s) carried bytes that differ from the first copy (within {} bytes \
                     compared), first at stream offset {}; the first bytes seen were kept",
                    t.count, t.bytes, t.first_offset
                );
                self.add(Finding::new(Code::RetransmissionConflict, detail).at(t.first_packet));
            }
        }
    }

    /// The connection's findings, tallies turned into findings and the
    /// dropped ones counted (and said on the last kept one of their code).
    /// Each is also counted into `totals` by code and by severity.
    fn final_findings(&mut self, totals: &mut Totals) -> Vec<Finding> {
        self.tally_findings();
        let mut findings = std::mem::take(&mut self.findings);
        for f in &findings {
            self.note(f);
            totals.count(f.code, f.severity, 1);
        }
        for &(code, severity, n) in &self.dropped {
            self.by_code.add(code, n);
            self.by_severity.add(severity, n);
            totals.count(code, severity, n);
            if let Some(last) = findings.iter_mut().rev().find(|f| f.code == code) {
                last.detail
                    .push_str(&format!(" (and {n} more like this on this connection)"));
            }
        }
        findings.sort_by_key(|f| f.packet.unwrap_or(0));
        findings
    }

    /// The connection record, diagnosed (proxy legs are linked after).
    /// Its findings are counted into `totals`.
    pub fn into_record(
        mut self,
        mut up: Upgrade,
        meta: &ConnMeta,
        reason: CloseReason,
        totals: &mut Totals,
        files: &[String],
        http2: Option<crate::record::Http2Info>,
    ) -> ConnectionRecord {
        let (client, server) = if up.swapped {
            (meta.server, meta.client)
        } else {
            (meta.client, meta.server)
        };
        let roles = match (up.swapped, meta.roles) {
            (true, _) => Roles::Http,
            (false, RoleSource::PortGuess) if up.request().is_some() => Roles::Http,
            (false, RoleSource::PortGuess) => Roles::PortGuess,
            (false, RoleSource::Syn) => Roles::Syn,
            (false, RoleSource::SynAck) => Roles::SynAck,
        };
        let findings = self.final_findings(totals);
        let hs = up.take_handshake();
        // A TLS client the server answered in plaintext is a placement
        // problem (tls_on_plaintext_port), not a TLS connection.
        let tls = up
            .tls
            .filter(|_| !self.by_code.contains(Code::TlsOnPlaintextPort))
            .map(|t| *t);
        let (c, s) = if up.swapped { (1, 0) } else { (0, 1) };
        let mut rec = ConnectionRecord {
            conn: meta.id,
            client,
            server,
            wireshark_filter: wireshark_filter(meta, files),
            files: meta
                .files
                .indices()
                .filter_map(|i| files.get(i as usize).cloned())
                .collect(),
            roles,
            websocket: up.detected_by.is_some(),
            detected_by: up.detected_by,
            tls,
            first_packet: meta.first_packet,
            last_packet: meta.last_packet,
            first_ts: meta.first_ts,
            last_ts: meta.last_ts,
            last_frame_ts: self.per_frame.last_ts,
            end_packet: meta.end_packet,
            end: reason,
            negotiated: hs.negotiated.map(negotiated_info),
            request: hs.request,
            response: hs.response,
            other_leg: None,
            frames: self.per_frame.frames,
            payload_bytes: self.per_frame.payload_bytes,
            tcp: PerDir {
                c2s: tcp_info(meta, c),
                s2c: tcp_info(meta, s),
            },
            close_codes: self.close_codes,
            findings,
            findings_by_code: self.by_code,
            findings_by_severity: self.by_severity,
            diagnosis: Vec::new(),
            http2,
        };
        self.evidence.server_answered_tls = up.server_answered_tls;
        rec.diagnosis = diagnosis::diagnose(&rec, &self.evidence);
        rec
    }
}

/// `tcp.stream eq N` where wscap's number is Wireshark's: one file given
/// (the numbers of merged files are not those of any one file) and nothing
/// before the connection that Wireshark may have counted differently.
fn wireshark_filter(meta: &ConnMeta, files: &[String]) -> Text {
    if meta.wireshark_numbered && files.len() < 2 {
        wireshark::conn_filter(meta.id)
    } else {
        wireshark::endpoints_filter(meta.client, meta.server).into()
    }
}

fn negotiated_info(n: Negotiated) -> NegotiatedInfo {
    NegotiatedInfo {
        extensions: n.extensions,
        subprotocol: n.subprotocol,
        deflate: n.deflate.map(|d| DeflateInfo {
            server_no_context_takeover: d.server_no_context_takeover,
            client_no_context_takeover: d.client_no_context_takeover,
            server_max_window_bits: d.server_max_window_bits,
            client_max_window_bits: d.client_max_window_bits,
        }),
        accept_ok: n.accept_ok,
    }
}

fn tcp_info(meta: &ConnMeta, i: usize) -> TcpDirInfo {
    let s = meta.stats[i];
    TcpDirInfo {
        packets: meta.packets[i],
        wire_bytes: s.wire_bytes,
        duplicate_bytes: s.duplicate_bytes,
        out_of_order: s.out_of_order,
        gaps: s.gaps,
        gap_bytes: s.gap_bytes,
        conflicts: s.conflicts,
    }
}
