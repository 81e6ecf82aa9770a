//! `--write-pcap OUT`: the packets of the connections that pass the
//! filters, as a pcap file (nanosecond timestamps, magic 0xa1b23c4d, the
//! captured bytes, original lengths, timestamps and link type unchanged),
//! to open in Wireshark or attach to a bug report.
//!
//! Packets arrive in capture order, each with its connection's verdict so
//! far ([`FilterOptions::verdict`](super::FilterOptions::verdict)).
//! Connections that pass are written at once, those that fail dropped.
//! A connection whose verdict is not known yet (it may still turn out to
//! be WebSocket for `--websocket-only`, or be active after `--since`) has
//! its packets held until it is decided: at most [`HELD_PER_CONN`] bytes
//! of it and [`HELD_TOTAL`] across all connections. Beyond that its held
//! packets are dropped and it is treated as failing for now; if it passes
//! later, its packets from then on are written and the run says how many
//! connections were written without their first packets. So memory stays
//! bounded, at the price of (rare) incomplete connections: a connection
//! decided within its first MiB (a WebSocket handshake is) is complete.
//!
//! Held packets are written when their connection is decided, so the file
//! is in capture order within each connection but not always across them
//! (`reordercap` sorts it; Wireshark reads it either way).
//!
//! A pcap file holds one link type: packets of another (inputs of
//! several link types) are not written, and the run ends with an error
//! naming the first such packet.

use crate::capture::{LinkType, PacketRef};
use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Bytes held for one undecided connection, at most.
pub const HELD_PER_CONN: usize = 1 << 20;
/// Bytes held across all undecided connections, at most.
pub const HELD_TOTAL: usize = 32 << 20;
/// Closed connections remembered as passing, for their late packets (a
/// final ACK after the FIN): as many as the reassembler keeps tombstones.
const CLOSED_REMEMBERED: usize = 32_768;

/// Nanosecond-resolution pcap (the libpcap "modified" magic).
const MAGIC_NS: u32 = 0xa1b2_3c4d;
const SNAPLEN: u32 = 262_144;

/// A packet held while its connection is undecided.
struct HeldPacket {
    ts: i64,
    orig_len: u32,
    linktype: LinkType,
    data: Box<[u8]>,
}

#[derive(Default)]
struct Held {
    packets: Vec<HeldPacket>,
    bytes: usize,
    /// Packets were dropped over the caps.
    dropped: bool,
}

pub struct PacketTap {
    path: PathBuf,
    out: BufWriter<File>,
    /// The link type of the file, once its header is written.
    linktype: Option<LinkType>,
    /// The first link type seen, for the header of a file left empty.
    first_linktype: Option<LinkType>,
    held: HashMap<u64, Held>,
    held_bytes: usize,
    passing: HashSet<u64>,
    closed: VecDeque<u64>,
    /// Connections written without their first packets.
    partial: u64,
    error: Option<String>,
}

impl PacketTap {
    pub fn create(path: &Path) -> io::Result<PacketTap> {
        Ok(PacketTap {
            path: path.to_path_buf(),
            out: BufWriter::with_capacity(1 << 16, File::create(path)?),
            linktype: None,
            first_linktype: None,
            held: HashMap::new(),
            held_bytes: 0,
            passing: HashSet::new(),
            closed: VecDeque::new(),
            partial: 0,
            error: None,
        })
    }

    /// A captured packet: `conn` is its connection's number and, while it
    /// is open, its verdict so far (`None` for packets of no connection).
    pub fn packet(
        &mut self,
        p: &PacketRef<'_>,
        conn: Option<(u64, Option<super::filter::Verdict>)>,
    ) {
        use super::filter::Verdict;
        self.first_linktype.get_or_insert(p.linktype);
        let Some((id, verdict)) = conn else { return };
        if self.passing.contains(&id) {
            return self.write(p.ts.0, p.orig_len, p.linktype, p.data);
        }
        match verdict {
            // Closed without passing, or decided against.
            None | Some(Verdict::No) => self.drop_held(id),
            Some(Verdict::Yes) => {
                self.pass(id);
                self.write(p.ts.0, p.orig_len, p.linktype, p.data);
            }
            Some(Verdict::Unknown) => self.hold(id, p),
        }
    }

    /// A connection ended: whether it passed, finally.
    pub fn decided(&mut self, conn: u64, passes: bool) {
        if !passes {
            return self.drop_held(conn);
        }
        self.pass(conn);
        self.closed.push_back(conn);
        if self.closed.len() > CLOSED_REMEMBERED
            && let Some(old) = self.closed.pop_front()
        {
            self.passing.remove(&old);
        }
    }

    /// The end of a run: every connection was decided. The next run (the
    /// next file with --no-merge) numbers its connections from 0 again.
    pub fn end_run(&mut self) {
        self.held.clear();
        self.held_bytes = 0;
        self.passing.clear();
        self.closed.clear();
    }

    /// Writes the end of the file; `Ok(Some(..))` is a warning for people,
    /// `Err` the message of what went wrong.
    pub fn finish(mut self) -> Result<Option<String>, String> {
        if self.linktype.is_none() && self.error.is_none() {
            // No packet passed: a valid, empty capture all the same.
            let lt = self.first_linktype.unwrap_or(LinkType::ETHERNET);
            self.header(lt);
        }
        if self.error.is_none()
            && let Err(e) = self.out.flush()
        {
            self.fail(&e);
        }
        if let Some(e) = self.error {
            return Err(e);
        }
        Ok((self.partial > 0).then(|| {
            format!(
                "--write-pcap: {} connection(s) written without their first packets (undecided \
                 past {} MiB held; see --help)",
                self.partial,
                HELD_PER_CONN >> 20
            )
        }))
    }

    fn pass(&mut self, id: u64) {
        self.passing.insert(id);
        let Some(held) = self.held.remove(&id) else {
            return;
        };
        self.held_bytes -= held.bytes;
        if held.dropped {
            self.partial += 1;
        }
        for h in held.packets {
            self.write(h.ts, h.orig_len, h.linktype, &h.data);
        }
    }

    fn drop_held(&mut self, id: u64) {
        if let Some(held) = self.held.remove(&id) {
            self.held_bytes -= held.bytes;
        }
    }

    fn hold(&mut self, id: u64, p: &PacketRef<'_>) {
        let held = self.held.entry(id).or_default();
        if held.dropped {
            return;
        }
        let cost = p.data.len() + std::mem::size_of::<HeldPacket>();
        if held.bytes + cost > HELD_PER_CONN || self.held_bytes + cost > HELD_TOTAL {
            // Over a cap: decide "not yet passing" and let its memory go.
            self.held_bytes -= held.bytes;
            *held = Held {
                dropped: true,
                ..Held::default()
            };
            return;
        }
        held.bytes += cost;
        self.held_bytes += cost;
        held.packets.push(HeldPacket {
            ts: p.ts.0,
            orig_len: p.orig_len,
            linktype: p.linktype,
            data: p.data.into(),
        });
    }

    fn header(&mut self, lt: LinkType) {
        self.linktype = Some(lt);
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&MAGIC_NS.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&0i32.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&SNAPLEN.to_le_bytes());
        h.extend_from_slice(&u32::from(lt.0).to_le_bytes());
        if let Err(e) = self.out.write_all(&h) {
            self.fail(&e);
        }
    }

    fn write(&mut self, ts: i64, orig_len: u32, lt: LinkType, data: &[u8]) {
        if self.error.is_some() {
            return;
        }
        match self.linktype {
            None => self.header(lt),
            Some(have) if have != lt => {
                self.error = Some(format!(
                    "--write-pcap {}: a pcap file holds one link type, and the connections to write \
                     have packets of link type {} and of {} (write the inputs of each link type \
                     in a run of their own)",
                    self.path.display(),
                    have.0,
                    lt.0
                ));
                return;
            }
            Some(_) => {}
        }
        // Times before 1970 or after 2106 do not fit the format's fields.
        let secs = u32::try_from(ts.div_euclid(1_000_000_000)).unwrap_or(0);
        let nanos = ts.rem_euclid(1_000_000_000) as u32;
        let incl = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&secs.to_le_bytes());
        h[4..8].copy_from_slice(&nanos.to_le_bytes());
        h[8..12].copy_from_slice(&incl.to_le_bytes());
        h[12..16].copy_from_slice(&orig_len.max(incl).to_le_bytes());
        let r = self
            .out
            .write_all(&h)
            .and_then(|_| self.out.write_all(data));
        if let Err(e) = r {
            self.fail(&e);
        }
    }

    fn fail(&mut self, e: &io::Error) {
        self.error = Some(format!("--write-pcap {}: {e}", self.path.display()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::filter::Verdict;
    use crate::test_util::TempFile;
    use crate::time::Timestamp;

    fn pkt(ts: i64, data: &[u8]) -> PacketRef<'_> {
        PacketRef {
            number: 0,
            ts: Timestamp(ts),
            linktype: LinkType::RAW,
            orig_len: data.len() as u32,
            data,
        }
    }

    /// The (ts, bytes) of a written file.
    fn read(path: &Path) -> Vec<(i64, Vec<u8>)> {
        let mut r = crate::capture::CaptureReader::open(path).unwrap();
        let mut v = Vec::new();
        while let Some(p) = r.next_packet().unwrap() {
            v.push((p.ts.0, p.data.to_vec()));
        }
        v
    }

    #[test]
    fn undecided_connections_are_held_then_written_or_dropped() {
        let file = TempFile::named("pcap-out-held");
        let mut tap = PacketTap::create(file.path()).unwrap();
        let (yes, no, wait) = (
            Some(Verdict::Yes),
            Some(Verdict::No),
            Some(Verdict::Unknown),
        );
        tap.packet(&pkt(1, b"a1"), Some((1, wait)));
        tap.packet(&pkt(2, b"b1"), Some((2, wait)));
        tap.packet(&pkt(3, b"c1"), Some((3, yes)));
        tap.packet(&pkt(4, b"a2"), Some((1, yes)));
        tap.packet(&pkt(5, b"b2"), Some((2, no)));
        tap.packet(&pkt(6, b"x"), None);
        tap.decided(3, true);
        // A late packet of a connection that passed, after its record.
        tap.packet(&pkt(7, b"c2"), Some((3, None)));
        assert_eq!(tap.finish(), Ok(None));
        let got = read(file.path());
        let want: Vec<(i64, Vec<u8>)> = [(3, "c1"), (1, "a1"), (4, "a2"), (7, "c2")]
            .iter()
            .map(|(t, d)| (*t, d.as_bytes().to_vec()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn beyond_the_cap_a_connection_is_written_from_its_decision_on() {
        let file = TempFile::named("pcap-out-cap");
        let mut tap = PacketTap::create(file.path()).unwrap();
        let big = vec![7u8; 64 << 10];
        let wait = Some(Verdict::Unknown);
        for i in 0..20 {
            tap.packet(&pkt(i, &big), Some((1, wait)));
        }
        assert!(tap.held_bytes <= HELD_PER_CONN);
        tap.packet(&pkt(100, b"now"), Some((1, Some(Verdict::Yes))));
        let warning = tap.finish().unwrap().unwrap();
        assert!(warning.contains("1 connection(s) written without their first packets"));
        assert_eq!(read(file.path()), [(100, b"now".to_vec())]);
    }
}
