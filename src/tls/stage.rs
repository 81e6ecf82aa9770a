//! The TLS stage in the pipeline: between the TCP reassembler and the
//! HTTP/WebSocket analysis, it takes the connections that open with a TLS
//! ClientHello while there are secrets, runs each through a
//! [`TlsSession`], and hands on what comes out (decrypted application data,
//! lost plaintext, why something could not be decrypted) in place of the
//! encrypted bytes. Every other connection goes through untouched.
//!
//! It is a [`StreamHandler`] wrapped around the next one ([`Decrypting`]).
//! Two run in series, each decrypting its [`Share`] of the TLS connections:
//! with two threads, the first on the reading side and the second on the
//! analysis side, so that decryption, about as much work as all the rest
//! of either thread's on captures of small records, is split between
//! them (on one side alone, that side did twice the other's work). The
//! second passes on what the first decrypted. With one thread both run
//! there, so the output is the same.

use super::{Event, Hello, KeyLog, TlsSession};
use crate::finding::{Code, Finding};
use crate::http::looks_like_tls;
use crate::tcp::{Chunk, CloseReason, ConnMeta, Dir, StreamEvent, StreamHandler};
use std::sync::Arc;

/// What the stage after this one takes besides the stream calls of the
/// connections that are not decrypted.
pub trait TlsHandler: StreamHandler {
    /// The connection opens with `hello`, its ClientHello's first bytes
    /// (client to server, stream offset 0), and is decrypted: its data
    /// comes as [`TlsHandler::tls`] from now on; its gaps and conflicts
    /// still come as stream events (they are the TCP stream's).
    fn tls_start(&mut self, conn: &mut Self::Conn, meta: &ConnMeta, hello: Chunk<'_>);
    /// What decrypting the connection gave.
    fn tls(&mut self, conn: &mut Self::Conn, meta: &ConnMeta, ev: Event<'_>);
    /// What decryption learnt, just before the connection's close.
    fn tls_end(&mut self, conn: &mut Self::Conn, meta: &ConnMeta, learnt: Learnt);
    /// Secrets embedded in the capture (a pcapng Decryption Secrets Block),
    /// in their place among the calls: for the connections after them. A
    /// stage that decrypts nothing ignores them.
    fn tls_secrets(&mut self, _text: &[u8]) {}
}

/// What a decrypted connection's TLS stage learnt, for its record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Learnt {
    pub hello: Hello,
    /// Some record was decrypted.
    pub decrypted: bool,
}

/// Bytes the TLS connections one stage decrypts may hold for records and
/// handshake messages not yet whole (a record must be whole to be
/// decrypted: up to 18 KiB a direction), 32 MiB for the two. Beyond, the
/// connection that asks for more is given up.
const MAX_HELD: usize = 16 << 20;

/// Which of the TLS connections that reach it a stage decrypts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Share {
    /// Every one: the last stage.
    All,
    /// Every other one, the first of them included: the first stage of
    /// two. The order is the connections' (their first bytes'), so the
    /// split is the same however the stages are run.
    EveryOther,
}

/// The TLS stage wrapped around `inner`, the stage after it.
pub struct Decrypting<H> {
    pub inner: H,
    keys: Arc<KeyLog>,
    /// `--port`s: a connection on one is plaintext WebSocket by the user's
    /// word; a ClientHello there is a finding, not something to decrypt.
    ports: Vec<u16>,
    share: Share,
    /// TLS connections to decrypt that reached it raw (taken or passed on).
    seen: u64,
    /// Bytes the sessions hold for records not yet whole, in total.
    held: usize,
}

/// A connection as this stage sees it.
pub struct Conn<C> {
    pub inner: C,
    state: State,
}

enum State {
    /// No byte or gap yet: the first one decides.
    Unseen,
    /// Not decrypted here (not TLS, another stage's share, or decrypted by
    /// a stage before): every call goes on as it is.
    Pass,
    Tls(Box<TlsSession>),
}

impl<H> Decrypting<H> {
    pub fn new(inner: H, keys: Arc<KeyLog>, ports: Vec<u16>, share: Share) -> Decrypting<H> {
        Decrypting {
            inner,
            keys,
            ports,
            share,
            seen: 0,
            held: 0,
        }
    }

    /// Whether the next TLS connection is this stage's to decrypt.
    fn takes_next(&mut self) -> bool {
        self.seen += 1;
        match self.share {
            Share::All => true,
            Share::EveryOther => self.seen % 2 == 1,
        }
    }

    /// Whether a connection whose first call is `ev` (in `dir`) is one to
    /// decrypt: there are secrets, and the client opens with a TLS record
    /// (RFC 8446 5.1) at the stream's start, not on a `--port`.
    fn starts_tls(&self, meta: &ConnMeta, dir: Dir, ev: &StreamEvent<'_>) -> bool {
        let StreamEvent::Data(chunk) = ev else {
            return false;
        };
        let on_port = |p: u16| self.ports.contains(&p);
        !self.keys.is_empty()
            && dir == Dir::ClientToServer
            && chunk.offset == 0
            && looks_like_tls(chunk.data)
            && !on_port(meta.client.port())
            && !on_port(meta.server.port())
    }
}

impl<H: TlsHandler> StreamHandler for Decrypting<H> {
    type Conn = Conn<H::Conn>;

    fn open(&mut self, meta: &ConnMeta) -> Conn<H::Conn> {
        Conn {
            inner: self.inner.open(meta),
            state: State::Unseen,
        }
    }

    fn event(&mut self, c: &mut Conn<H::Conn>, meta: &ConnMeta, dir: Dir, ev: StreamEvent<'_>) {
        if let State::Unseen = c.state {
            c.state = match ev {
                StreamEvent::Data(hello)
                    if self.starts_tls(meta, dir, &ev) && self.takes_next() =>
                {
                    self.inner.tls_start(&mut c.inner, meta, hello);
                    State::Tls(Box::default())
                }
                _ => State::Pass,
            };
        }
        match &mut c.state {
            State::Tls(session) => self.tls_event(session, &mut c.inner, meta, dir, ev),
            _ => self.inner.event(&mut c.inner, meta, dir, ev),
        }
    }

    fn close(&mut self, mut c: Conn<H::Conn>, meta: &ConnMeta, reason: CloseReason) {
        if let State::Tls(session) = c.state {
            self.held -= session.held();
            let learnt = Learnt {
                decrypted: session.decrypted(),
                hello: session.into_hello(),
            };
            self.inner.tls_end(&mut c.inner, meta, learnt);
        }
        self.inner.close(c.inner, meta, reason);
    }

    fn prefetch(&self, c: &Conn<H::Conn>, dir: Dir) {
        // A TLS connection's event goes to its session first: too much
        // state to be worth a hint.
        if !matches!(c.state, State::Tls(_)) {
            self.inner.prefetch(&c.inner, dir);
        }
    }
}

/// A stage after another passes on what that one decrypted, and takes
/// the capture's secrets as well as passing them on.
impl<H: TlsHandler> TlsHandler for Decrypting<H> {
    fn tls_start(&mut self, c: &mut Conn<H::Conn>, meta: &ConnMeta, hello: Chunk<'_>) {
        // Decrypted before: nothing for this one to decide.
        c.state = State::Pass;
        self.inner.tls_start(&mut c.inner, meta, hello);
    }

    fn tls(&mut self, c: &mut Conn<H::Conn>, meta: &ConnMeta, ev: Event<'_>) {
        self.inner.tls(&mut c.inner, meta, ev);
    }

    fn tls_end(&mut self, c: &mut Conn<H::Conn>, meta: &ConnMeta, learnt: Learnt) {
        self.inner.tls_end(&mut c.inner, meta, learnt);
    }

    fn tls_secrets(&mut self, text: &[u8]) {
        Arc::make_mut(&mut self.keys).add(text);
        self.inner.tls_secrets(text);
    }
}

impl<H: TlsHandler> Decrypting<H> {
    /// A call of a connection being decrypted: its bytes go through the
    /// session; gaps and conflicts go on too (they are the TCP stream's,
    /// counted on the connection).
    fn tls_event(
        &mut self,
        session: &mut TlsSession,
        conn: &mut H::Conn,
        meta: &ConnMeta,
        dir: Dir,
        ev: StreamEvent<'_>,
    ) {
        let before = session.held();
        let StreamEvent::Data(chunk) = ev else {
            if let StreamEvent::Gap(gap) = ev {
                session.gap(dir, gap.len);
                self.held = self.held - before + session.held();
            }
            return self.inner.event(conn, meta, dir, ev);
        };
        let inner = &mut self.inner;
        let mut out = |e: Event<'_>| inner.tls(conn, meta, e);
        session.push(
            dir,
            chunk.data,
            (chunk.packet, chunk.ts),
            &self.keys,
            &mut out,
        );
        self.held = self.held - before + session.held();
        if self.held > MAX_HELD {
            self.held -= session.held();
            let detail = "more than 32 MiB of TLS records not yet whole across connections at once \
                          (16 MiB for each half of them): this connection is not decrypted further";
            session.abandon(detail, chunk.packet, &mut out);
        }
    }
}

/// The finding for a TLS connection whose ClientHello the capture does
/// not hold (it began before the capture): its secrets cannot be found.
pub fn no_client_hello(packet: u64) -> Finding {
    let detail = "no ClientHello of this TLS connection in the capture (it began before the \
                  capture?): without its client random, its secrets cannot be found in a key log";
    Finding::new(Code::TlsKeyMissing, detail).at(packet)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::{Gap, GapReason};
    use crate::time::Timestamp;

    /// Writes down what reaches the stage after this one.
    #[derive(Default)]
    struct Log(Vec<String>);

    impl StreamHandler for Log {
        type Conn = ();
        fn open(&mut self, _: &ConnMeta) {}
        fn event(&mut self, _: &mut (), _: &ConnMeta, dir: Dir, ev: StreamEvent<'_>) {
            let what = match ev {
                StreamEvent::Data(c) => format!("data {}", c.data.len()),
                StreamEvent::Gap(g) => format!("gap {}", g.len),
                StreamEvent::Conflict { .. } => "conflict".to_owned(),
            };
            self.0.push(format!("{} {what}", dir.as_str()));
        }
        fn close(&mut self, _: (), _: &ConnMeta, _: CloseReason) {
            self.0.push("close".to_owned());
        }
    }

    impl TlsHandler for Log {
        fn tls_start(&mut self, _: &mut (), _: &ConnMeta, hello: Chunk<'_>) {
            self.0.push(format!("tls start {}", hello.data.len()));
        }
        fn tls(&mut self, _: &mut (), _: &ConnMeta, ev: Event<'_>) {
            let what = match ev {
                Event::Data { chunk, .. } => format!("data {}", chunk.data.len()),
                Event::Gap { gap, .. } => format!("gap {}", gap.len),
                Event::Finding(f) => format!("finding {:?}", f.code),
            };
            self.0.push(format!("tls {what}"));
        }
        fn tls_end(&mut self, _: &mut (), _: &ConnMeta, learnt: Learnt) {
            let random = learnt.hello.client_random.is_some();
            self.0.push(format!("tls end random {random}"));
        }
    }

    fn meta(server_port: u16) -> ConnMeta {
        let (client, server) = (([127, 0, 0, 1], 50000), ([127, 0, 0, 1], server_port));
        ConnMeta::for_test(0, client.into(), server.into())
    }

    fn secret_line() -> String {
        format!("CLIENT_RANDOM {} {}\n", "ab".repeat(32), "cd".repeat(48))
    }

    /// A TLS record header and the start of a ClientHello.
    const HELLO: &[u8] = &[22, 3, 1, 0, 200, 1, 0, 0, 196, 3, 3];

    fn data(offset: u64, data: &[u8]) -> StreamEvent<'_> {
        StreamEvent::Data(Chunk {
            offset,
            data,
            packet: 1,
            ts: Timestamp(0),
        })
    }

    fn gap() -> StreamEvent<'static> {
        StreamEvent::Gap(Gap {
            offset: 0,
            len: 10,
            reason: GapReason::Lost,
            packet: 1,
            ts: Timestamp(0),
        })
    }

    /// Runs `calls` through the stage (secrets if `keys`, `ports` as
    /// `--port`s) on a connection to `server_port`; what came out.
    fn run(
        keys: bool,
        ports: &[u16],
        server_port: u16,
        calls: Vec<(Dir, StreamEvent<'_>)>,
    ) -> Vec<String> {
        let mut log = KeyLog::default();
        if keys {
            log.add(secret_line().as_bytes());
        }
        let (log, ports) = (Arc::new(log), ports.to_vec());
        let mut stage = Decrypting::new(Log::default(), log, ports, Share::All);
        let m = meta(server_port);
        let mut c = stage.open(&m);
        for (dir, ev) in calls {
            stage.event(&mut c, &m, dir, ev);
        }
        stage.close(c, &m, CloseReason::Fin);
        assert_eq!(stage.held, 0, "what the sessions held is given back");
        stage.inner.0
    }

    const C2S: Dir = Dir::ClientToServer;
    const S2C: Dir = Dir::ServerToClient;

    #[test]
    fn a_client_hello_with_secrets_is_decrypted() {
        let out = run(true, &[], 443, vec![(C2S, data(0, HELLO)), (S2C, gap())]);
        // The hello is held by the session (not whole yet); the gap is the
        // TCP stream's, counted after it too.
        let want = [
            "tls start 11",
            "s2c gap 10",
            "tls end random false",
            "close",
        ];
        assert_eq!(out, want);
    }

    #[test]
    fn without_secrets_everything_goes_on_as_it_is() {
        let out = run(false, &[], 443, vec![(C2S, data(0, HELLO))]);
        assert_eq!(out, ["c2s data 11", "close"]);
    }

    /// The first call decides, as the analysis's upgrade state would: a
    /// server that speaks first, a gap first, a hello not at the stream's
    /// start or on a `--port` are not decrypted.
    #[test]
    fn only_a_client_opening_with_tls_is_decrypted() {
        let server_first = run(
            true,
            &[],
            443,
            vec![(S2C, data(0, b"x")), (C2S, data(0, HELLO))],
        );
        assert_eq!(server_first[1], "c2s data 11");
        let gap_first = run(true, &[], 443, vec![(C2S, gap()), (C2S, data(10, HELLO))]);
        assert_eq!(gap_first[1], "c2s data 11");
        let later = run(true, &[], 443, vec![(C2S, data(5, HELLO))]);
        assert_eq!(later[0], "c2s data 11");
        let port = run(true, &[443], 443, vec![(C2S, data(0, HELLO))]);
        assert_eq!(port[0], "c2s data 11");
        let plain = run(true, &[], 443, vec![(C2S, data(0, b"GET / HTTP/1.1\r\n"))]);
        assert_eq!(plain[0], "c2s data 16");
    }

    #[test]
    fn too_much_held_gives_the_connection_up() {
        let keys = Arc::new(KeyLog::default());
        let mut stage = Decrypting::new(Log::default(), keys, Vec::new(), Share::All);
        // Secrets as the capture would embed them, given to the stage.
        stage.tls_secrets(secret_line().as_bytes());
        stage.held = MAX_HELD;
        let m = meta(443);
        let mut c = stage.open(&m);
        stage.event(&mut c, &m, C2S, data(0, HELLO));
        stage.close(c, &m, CloseReason::Fin);
        let found = |s: &&String| s.contains("TlsDecryptFailed");
        assert_eq!(
            stage.inner.0.iter().filter(found).count(),
            2,
            "{:?}",
            stage.inner.0
        );
        assert_eq!(
            stage.held, MAX_HELD,
            "the connection's own bytes were given back"
        );
    }

    /// Two stages in series: the first decrypts every other TLS connection,
    /// the second the rest and passes on what the first decrypted; each is
    /// decrypted once, and the analysis sees the same calls for all.
    #[test]
    fn two_stages_share_the_connections() {
        let keys = Arc::new(KeyLog::default());
        let second = Decrypting::new(Log::default(), keys.clone(), Vec::new(), Share::All);
        let mut first = Decrypting::new(second, keys, Vec::new(), Share::EveryOther);
        first.tls_secrets(secret_line().as_bytes());
        let m = meta(443);
        let mut conns: Vec<_> = (0..4).map(|_| first.open(&m)).collect();
        for c in &mut conns {
            first.event(c, &m, C2S, data(0, HELLO));
        }
        let tls = |s: &State| matches!(s, State::Tls(_));
        let states: Vec<_> = conns
            .iter()
            .map(|c| (tls(&c.state), tls(&c.inner.state)))
            .collect();
        assert_eq!(
            states,
            [(true, false), (false, true), (true, false), (false, true)]
        );
        for c in conns {
            first.close(c, &m, CloseReason::Fin);
        }
        let log = &first.inner.inner.0;
        assert_eq!(log.iter().filter(|s| s.starts_with("tls start")).count(), 4);
        assert_eq!(log.iter().filter(|s| s.starts_with("tls end")).count(), 4);
        assert!(!log.iter().any(|s| s.contains("data")), "{log:?}");
    }
}
