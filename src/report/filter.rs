//! The filters, as a [`Sink`] in front of any writer, so every format
//! filters the same way.
//!
//! Connection filters (`--conn`, `--host`, `--tcp-port`, `--server-port`,
//! `--since`/`--until`, `--websocket-only`) choose connections; the
//! records of a chosen connection are the unfiltered run's, unchanged
//! (only `--severity` removes findings from them, and `--only-findings`
//! frames without any). Frame records are chosen as they stream, by their
//! connection's number and endpoints and by their own time (a frame
//! outside `--since`/`--until` is left out); a connection record once the
//! connection ended, by all of it: it is shown when it was active in the
//! window (its first packet not after `--until`, its last not before
//! `--since`). `--write-pcap` ([`super::pcap_out`]) decides by the same
//! [`FilterOptions::verdict`].
//!
//! The summary record describes the whole capture (it is also what the
//! exit status is computed from), so a filtered view cannot make a broken
//! capture look clean; it says which filters were applied and how many
//! connections they showed (`filter`).

use super::pcap_out::PacketTap;
use crate::capture::PacketRef;
use crate::finding::{Finding, Severity};
use crate::record::{ConnFacts, FilterSummary, Record, Sink, SummaryRecord};
use crate::time::Timestamp;
use std::collections::{BTreeSet, HashMap};
use std::io;
use std::net::{IpAddr, SocketAddr};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterOptions {
    /// Only these connections (`None` = all).
    pub conns: Option<BTreeSet<u64>>,
    /// Only frames with (shown) findings; connection records are kept.
    pub only_findings: bool,
    /// Findings below this severity are removed from frame and connection
    /// records.
    pub min_severity: Severity,
    /// Connections with either end in one of these networks.
    pub hosts: Vec<IpNet>,
    /// Connections with either end on one of these ports.
    pub tcp_ports: Vec<u16>,
    /// Connections whose server is on one of these ports.
    pub server_ports: Vec<u16>,
    /// Connections active at or after this time (frames at or after it).
    pub since: Option<Timestamp>,
    /// Connections active at or before this time (frames at or before it).
    pub until: Option<Timestamp>,
    /// Only connections recognised as WebSocket.
    pub websocket_only: bool,
    /// Only one shard's connections reach the filter (`--shard`): their
    /// numbers are the whole capture's, their count is the shard's.
    pub sharded: bool,
}

impl Default for FilterOptions {
    fn default() -> Self {
        FilterOptions {
            conns: None,
            only_findings: false,
            min_severity: Severity::Info,
            hosts: Vec::new(),
            tcp_ports: Vec::new(),
            server_ports: Vec::new(),
            since: None,
            until: None,
            websocket_only: false,
            sharded: false,
        }
    }
}

/// Whether a connection passes the connection filters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Yes,
    No,
    /// Not known yet: it depends on what the connection does later (it may
    /// still turn out WebSocket, or be active after `--since`).
    Unknown,
}

impl FilterOptions {
    /// Whether the filter lets every record through untouched.
    pub fn is_noop(&self) -> bool {
        !self.selects_connections() && !self.only_findings && self.min_severity == Severity::Info
    }

    /// Whether any connection filter was given.
    pub fn selects_connections(&self) -> bool {
        self.conns.is_some()
            || !self.hosts.is_empty()
            || !self.tcp_ports.is_empty()
            || !self.server_ports.is_empty()
            || self.since.is_some()
            || self.until.is_some()
            || self.websocket_only
    }

    /// The filters that are fixed by a connection's number and endpoints.
    fn endpoints_pass(&self, conn: u64, client: SocketAddr, server: SocketAddr) -> bool {
        let either_ip = |ip: IpAddr| self.hosts.iter().any(|n| n.contains(ip));
        let either_port = |p: u16| self.tcp_ports.contains(&p);
        self.conns.as_ref().is_none_or(|c| c.contains(&conn))
            && (self.hosts.is_empty() || either_ip(client.ip()) || either_ip(server.ip()))
            && (self.tcp_ports.is_empty()
                || either_port(client.port())
                || either_port(server.port()))
            && (self.server_ports.is_empty() || self.server_ports.contains(&server.port()))
    }

    /// The verdict on a connection from what is known of it; final once
    /// it ended (`ConnFacts::of` its record).
    pub fn verdict(&self, f: &ConnFacts) -> Verdict {
        let ends = self.endpoints_pass(f.conn, f.client, f.server)
            || (f.roles_open && self.endpoints_pass(f.conn, f.server, f.client));
        if !ends || self.until.is_some_and(|u| f.first_ts > u) {
            return Verdict::No;
        }
        if f.roles_open && !self.server_ports.is_empty() {
            // Which end is the server is not settled yet.
            return Verdict::Unknown;
        }
        let active_since = self.since.is_none_or(|s| f.last_ts >= s);
        let websocket = !self.websocket_only || f.websocket;
        match (active_since && websocket, f.ended) {
            (true, _) => Verdict::Yes,
            (false, true) => Verdict::No,
            (false, false) => Verdict::Unknown,
        }
    }

    /// The connection filters as flags, for messages and the summary.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        let list = |v: &mut Vec<String>, flag: &str, items: Vec<String>| {
            if !items.is_empty() {
                v.push(format!("{flag} {}", items.join(",")));
            }
        };
        if let Some(c) = &self.conns {
            list(&mut parts, "--conn", c.iter().map(u64::to_string).collect());
        }
        list(
            &mut parts,
            "--host",
            self.hosts.iter().map(IpNet::to_string).collect(),
        );
        let ports = |p: &[u16]| p.iter().map(u16::to_string).collect();
        list(&mut parts, "--tcp-port", ports(&self.tcp_ports));
        list(&mut parts, "--server-port", ports(&self.server_ports));
        if let Some(t) = self.since {
            parts.push(format!("--since {t}"));
        }
        if let Some(t) = self.until {
            parts.push(format!("--until {t}"));
        }
        if self.websocket_only {
            parts.push("--websocket-only".into());
        }
        parts.join(" ")
    }
}

/// An address or a network (`10.0.0.0/8`, `2001:db8::/32`) for `--host`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpNet {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl IpNet {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let bits = |a: IpAddr| match a {
            IpAddr::V4(v4) => (u128::from(v4.to_bits()) << 96, 32u8),
            IpAddr::V6(v6) => (v6.to_bits(), 128u8),
        };
        // An IPv4-mapped IPv6 address is the IPv4 host it maps.
        let norm = |a: IpAddr| match a {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(a, IpAddr::V4),
            a => a,
        };
        let ((net, len), (ip, ip_len)) = (bits(norm(self.addr)), bits(norm(ip)));
        if len != ip_len {
            return false;
        }
        let prefix = u32::from(self.prefix.min(len));
        let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
        net & mask == ip & mask
    }
}

impl std::str::FromStr for IpNet {
    type Err = String;

    fn from_str(s: &str) -> Result<IpNet, String> {
        let bad = || format!("{s:?} is not an address or network (e.g. 10.0.0.1, ::1, 10.0.0.0/8)");
        let (a, p) = s.split_once('/').map_or((s, None), |(a, p)| (a, Some(p)));
        let addr: IpAddr = a.trim_matches(['[', ']']).parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) => p.parse().ok().filter(|n| *n <= max).ok_or_else(bad)?,
        };
        Ok(IpNet { addr, prefix })
    }
}

impl std::fmt::Display for IpNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let full = if self.addr.is_ipv4() { 32 } else { 128 };
        if self.prefix == full {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.prefix)
        }
    }
}

pub struct Filter<S> {
    inner: S,
    opts: FilterOptions,
    /// What frame records meet, decided once: a frame record is the most
    /// frequent record, and with no filter (or a writer that drops them)
    /// each would go through the checks for nothing.
    frames: FramePath,
    /// Connections with frames whose endpoints fail the filters, until
    /// their record (only with endpoint filters).
    hidden: HashMap<u64, ()>,
    /// Connection records seen and shown.
    seen: u64,
    shown: u64,
    /// The whole capture's connection count, from the summary.
    total: Option<u64>,
    tap: Option<PacketTap>,
}

/// How frame records go through a [`Filter`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FramePath {
    /// The writer does not write them.
    Dropped,
    /// No filter can remove or change one: straight to the writer.
    Through,
    /// Each is checked.
    Checked,
}

impl<S: Sink> Filter<S> {
    pub fn new(inner: S, opts: FilterOptions) -> Filter<S> {
        let frames = if !inner.wants_frames() {
            FramePath::Dropped
        } else if opts.is_noop() {
            FramePath::Through
        } else {
            FramePath::Checked
        };
        Filter {
            inner,
            opts,
            frames,
            hidden: HashMap::new(),
            seen: 0,
            shown: 0,
            total: None,
            tap: None,
        }
    }

    /// Writes the packets of the connections that pass to `tap`.
    pub fn with_tap(mut self, tap: PacketTap) -> Filter<S> {
        self.tap = Some(tap);
        self
    }

    pub fn into_inner(self) -> S {
        self.inner
    }

    /// Takes back the packet output, at the end of a run (every
    /// connection decided), for the next run or to finish it.
    pub fn take_tap(&mut self) -> Option<PacketTap> {
        let mut tap = self.tap.take()?;
        tap.end_run();
        Some(tap)
    }

    /// A message for people when connection filters were given and no
    /// connection passed them.
    pub fn unmatched(&self) -> Option<String> {
        if !self.opts.selects_connections() || self.shown > 0 {
            return None;
        }
        let n = self.total.unwrap_or(self.seen);
        let numbered = match n {
            _ if self.opts.sharded => " in this shard".to_string(),
            0 => String::new(),
            1 => ", numbered 0".to_string(),
            n => format!(", numbered 0\u{2013}{}", n - 1),
        };
        let s = if n == 1 { "" } else { "s" };
        Some(format!(
            "no connection matched {} (the capture has {n} connection{s}{numbered})",
            self.opts.describe()
        ))
    }

    fn frame_shown(&self, conn: u64, ts: Timestamp) -> bool {
        self.opts.conns.as_ref().is_none_or(|c| c.contains(&conn))
            && !self.hidden.contains_key(&conn)
            && self.opts.since.is_none_or(|s| ts >= s)
            && self.opts.until.is_none_or(|u| ts <= u)
    }

    fn shown(&self, f: &Finding) -> bool {
        f.severity >= self.opts.min_severity
    }

    fn summary(&mut self, s: &SummaryRecord) -> io::Result<()> {
        self.total = Some(s.tcp_connections);
        if !self.opts.selects_connections() {
            return self.inner.record(Record::Summary(s));
        }
        let mut s = s.clone();
        s.filter = Some(FilterSummary {
            flags: self.opts.describe(),
            connections_shown: self.shown,
        });
        self.inner.record(Record::Summary(&s))
    }

    /// A record the filters may leave out or change.
    fn checked(&mut self, r: Record<'_>) -> io::Result<()> {
        match r {
            Record::Frame(f) => {
                if !self.frame_shown(f.conn, f.ts) {
                    return Ok(());
                }
                // Most frames have no finding to remove: pass them by
                // reference, and copy only the rare frame that changes.
                if f.findings.iter().all(|x| self.shown(x)) {
                    if self.opts.only_findings && f.findings.is_empty() {
                        return Ok(());
                    }
                    return self.inner.record(r);
                }
                let mut f = f.clone();
                let min = self.opts.min_severity;
                f.findings.retain(|x| x.severity >= min);
                if self.opts.only_findings && f.findings.is_empty() {
                    return Ok(());
                }
                self.inner.record(Record::Frame(&f))
            }
            Record::Connection(c) => {
                self.seen += 1;
                self.hidden.remove(&c.conn);
                let verdict = self.opts.verdict(&ConnFacts::of(c));
                if let Some(tap) = &mut self.tap {
                    tap.decided(c.conn, verdict == Verdict::Yes);
                }
                if verdict != Verdict::Yes {
                    self.inner.connection_filtered(c.conn);
                    return Ok(());
                }
                self.shown += 1;
                if self.opts.min_severity == Severity::Info {
                    return self.inner.record(r);
                }
                let min = self.opts.min_severity;
                let mut c = c.clone();
                c.findings.retain(|x| x.severity >= min);
                c.findings_by_code.retain(|code| code.severity() >= min);
                c.findings_by_severity.retain(|s| s >= min);
                self.inner.record(Record::Connection(&c))
            }
            Record::Summary(s) => self.summary(s),
        }
    }
}

impl<S: Sink> Sink for Filter<S> {
    /// Inlined as far as the frame records no filter looks at: one record
    /// a frame, and a call for each cost as much as the choice.
    #[inline]
    fn record(&mut self, r: Record<'_>) -> io::Result<()> {
        match (&r, self.frames) {
            (Record::Frame(_), FramePath::Dropped) => Ok(()),
            (Record::Frame(_), FramePath::Through) => self.inner.record(r),
            _ => self.checked(r),
        }
    }

    fn wants_frames(&self) -> bool {
        self.inner.wants_frames()
    }

    fn capture_start(&mut self, ts: crate::time::Timestamp) {
        self.inner.capture_start(ts);
    }

    fn connection_filtered(&mut self, conn: u64) {
        self.inner.connection_filtered(conn);
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }

    fn endpoints(&mut self, conn: u64, client: SocketAddr, server: SocketAddr) {
        if !self.opts.endpoints_pass(conn, client, server) {
            self.hidden.insert(conn, ());
        }
        self.inner.endpoints(conn, client, server);
    }

    fn wants_packets(&self) -> bool {
        self.tap.is_some()
    }

    fn packet(&mut self, p: &PacketRef<'_>, conn: Option<(u64, Option<ConnFacts>)>) {
        if let Some(tap) = &mut self.tap {
            let verdict = conn.map(|(id, facts)| (id, facts.map(|f| self.opts.verdict(&f))));
            tap.packet(p, verdict);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Code;
    use crate::record::{FrameRecord, SummaryRecord};
    use crate::report::frame_json::write_frame;
    use crate::report::preview::PayloadMode;
    use crate::tcp::Dir;

    #[derive(Default)]
    struct Collect(Vec<String>);

    impl Sink for Collect {
        fn record(&mut self, r: Record<'_>) -> io::Result<()> {
            let text = match r {
                Record::Frame(f) => {
                    let mut out = Vec::new();
                    write_frame(f, PayloadMode::None, &mut String::new(), &mut out);
                    String::from_utf8(out).unwrap()
                }
                r => serde_json::to_string(&r).unwrap(),
            };
            self.0.push(text);
            Ok(())
        }
    }

    fn frame(conn: u64, codes: &[Code]) -> FrameRecord {
        let mut f = FrameRecord::empty(conn, Dir::ClientToServer);
        f.findings = codes.iter().map(|&c| Finding::new(c, "x")).collect();
        f
    }

    fn run(opts: FilterOptions, frames: &[FrameRecord]) -> Vec<String> {
        let mut f = Filter::new(Collect::default(), opts);
        for fr in frames {
            f.record(Record::Frame(fr)).unwrap();
        }
        let s = SummaryRecord::default();
        f.record(Record::Summary(&s)).unwrap();
        f.into_inner().0
    }

    #[test]
    fn filters() {
        let frames = [
            frame(0, &[]),
            frame(1, &[Code::UnmaskedClientFrame]),
            frame(2, &[Code::CaptureGap]),
        ];
        assert_eq!(run(FilterOptions::default(), &frames).len(), 4);
        let only = FilterOptions {
            only_findings: true,
            ..Default::default()
        };
        assert_eq!(run(only.clone(), &frames).len(), 3);
        let err = FilterOptions {
            min_severity: Severity::Error,
            ..only
        };
        let out = run(err, &frames);
        assert_eq!(out.len(), 2, "{out:?}");
        assert!(out[0].contains("unmasked_client_frame"));
        assert!(out[1].contains("\"summary\""));
        let conn = FilterOptions {
            conns: Some([2].into_iter().collect()),
            ..Default::default()
        };
        let out = run(conn, &frames);
        assert_eq!(out.len(), 2);
        assert!(out[0].contains("\"conn\":2"));
        // Severity alone hides findings but keeps the frame.
        let warn = FilterOptions {
            min_severity: Severity::Warning,
            ..Default::default()
        };
        let out = run(warn, &frames);
        assert_eq!(out.len(), 4);
        assert!(out[2].contains("\"findings\":[]"));
    }

    fn facts(conn: u64, client: &str, server: &str, ts: (i64, i64), ws: bool) -> ConnFacts {
        ConnFacts {
            conn,
            client: client.parse().unwrap(),
            server: server.parse().unwrap(),
            first_ts: Timestamp(ts.0),
            last_ts: Timestamp(ts.1),
            websocket: ws,
            ended: false,
            roles_open: false,
        }
    }

    #[test]
    fn verdicts_decide_as_soon_as_they_can() {
        let f = facts(3, "10.0.0.1:50000", "10.0.0.2:80", (100, 200), false);
        let with = |o: FilterOptions| o.verdict(&f);
        assert_eq!(with(FilterOptions::default()), Verdict::Yes);
        let host = |h: &str| FilterOptions {
            hosts: vec![h.parse().unwrap()],
            ..Default::default()
        };
        assert_eq!(with(host("10.0.0.2")), Verdict::Yes);
        assert_eq!(with(host("10.0.0.0/24")), Verdict::Yes);
        assert_eq!(with(host("10.0.1.0/24")), Verdict::No);
        assert_eq!(with(host("::ffff:10.0.0.1")), Verdict::Yes);
        let server = FilterOptions {
            server_ports: vec![50000],
            ..Default::default()
        };
        assert_eq!(with(server), Verdict::No);
        let either = FilterOptions {
            tcp_ports: vec![50000],
            ..Default::default()
        };
        assert_eq!(with(either), Verdict::Yes);
        // Roles guessed by port may still swap: the server port waits.
        let open = ConnFacts {
            roles_open: true,
            ..f
        };
        let server = |p: u16| FilterOptions {
            server_ports: vec![p],
            ..Default::default()
        };
        assert_eq!(server(50000).verdict(&open), Verdict::Unknown);
        assert_eq!(server(80).verdict(&open), Verdict::Unknown);
        assert_eq!(server(443).verdict(&open), Verdict::No);
        // WebSocket and --since wait while the connection is open...
        let ws = FilterOptions {
            websocket_only: true,
            ..Default::default()
        };
        assert_eq!(with(ws.clone()), Verdict::Unknown);
        let since = FilterOptions {
            since: Some(Timestamp(300)),
            ..Default::default()
        };
        assert_eq!(with(since.clone()), Verdict::Unknown);
        // ...and are final at its end, or once met.
        let ended = ConnFacts { ended: true, ..f };
        assert_eq!(ws.verdict(&ended), Verdict::No);
        assert_eq!(since.verdict(&ended), Verdict::No);
        let later = ConnFacts {
            last_ts: Timestamp(300),
            websocket: true,
            ..f
        };
        assert_eq!(ws.verdict(&later), Verdict::Yes);
        assert_eq!(since.verdict(&later), Verdict::Yes);
        let until = FilterOptions {
            until: Some(Timestamp(99)),
            ..Default::default()
        };
        assert_eq!(with(until), Verdict::No);
    }

    #[test]
    fn networks() {
        let n: IpNet = "2001:db8::/32".parse().unwrap();
        assert!(n.contains("2001:db8::1".parse().unwrap()));
        assert!(!n.contains("2001:db9::1".parse().unwrap()));
        assert!(!n.contains("10.0.0.1".parse().unwrap()));
        let all: IpNet = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("192.0.2.1".parse().unwrap()));
        assert_eq!(all.to_string(), "0.0.0.0/0");
        assert_eq!("[::1]".parse::<IpNet>().unwrap().to_string(), "::1");
        for bad in ["", "10.0.0", "10.0.0.0/33", "::/129", "host.example"] {
            assert!(bad.parse::<IpNet>().is_err(), "{bad}");
        }
    }
}
