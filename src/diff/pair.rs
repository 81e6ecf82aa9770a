//! Pairing connections across two captures whose ports, addresses and
//! timing differ: by what the client asked for (request target, Host,
//! subprotocol) in the order connections end, then by shape (frames and
//! opcodes per direction) for what is left.
//!
//! [`Matcher`] pairs as connections end, so that a diff holds only the
//! connections still waiting for a partner; [`pair`] pairs what is left at
//! the end with the less sure methods.

use super::summary::ConnSummary;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, VecDeque};

/// How a pair was made, from surest to least sure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Same target, Host and subprotocol, same place among those.
    Request,
    /// Same target and subprotocol (the Host differs: another port or
    /// name; or one capture holds both legs of a proxied connection and
    /// the other one leg), same place among those.
    Target,
    /// No request to go by: same frames and opcodes per direction.
    Shape,
}

/// A pair: indexes into the BEFORE and AFTER summaries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pair {
    pub before: usize,
    pub after: usize,
    pub method: Method,
}

/// The pairs, and the connections left without a partner on each side.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pairing {
    pub pairs: Vec<Pair>,
    pub only_before: Vec<usize>,
    pub only_after: Vec<usize>,
}

type Key = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<crate::record::Hop>,
);

/// What the client asked for, with the Host and the leg when asked.
fn key(c: &ConnSummary, host: bool, leg: bool) -> Option<Key> {
    c.target.as_ref()?;
    let h = if host { c.host.clone() } else { None };
    let l = if leg { c.leg } else { None };
    Some((c.target.clone(), h, c.subprotocol.clone(), l))
}

/// Frames and opcodes per direction, for connections without a request.
fn shape(c: &ConnSummary) -> impl PartialEq + '_ {
    (
        c.websocket,
        c.dirs.c2s.frames,
        c.dirs.s2c.frames,
        &c.dirs.c2s.opcodes,
        &c.dirs.s2c.opcodes,
    )
}

/// Records the pair (`i`, `found`) if there is one; whether `i` is still
/// unpaired.
fn take(
    out: &mut Pairing,
    taken: &mut [bool],
    i: usize,
    found: Option<usize>,
    method: Method,
) -> bool {
    let Some(j) = found else { return true };
    taken[j] = true;
    out.pairs.push(Pair {
        before: i,
        after: j,
        method,
    });
    false
}

/// Pairs `before` with `after` (both in the order connections ended).
pub fn pair(before: &[ConnSummary], after: &[ConnSummary]) -> Pairing {
    let mut taken = vec![false; after.len()];
    let mut out = Pairing::default();
    let mut left: Vec<usize> = (0..before.len()).collect();
    // Surest first: the request with its Host and leg; then without the
    // leg (one side holds one leg only); then the target alone.
    let tiers = [
        (Method::Request, true, true),
        (Method::Request, true, false),
        (Method::Target, false, false),
        (Method::Shape, false, false),
    ];
    for (method, host, leg) in tiers {
        if method == Method::Shape {
            // Few connections lack a request: a search is fine here.
            left.retain(|&i| {
                let b = &before[i];
                let shaped =
                    |a: &ConnSummary| key(a, false, false).is_none() && shape(a) == shape(b);
                let found = key(b, false, false)
                    .is_none()
                    .then(|| (0..after.len()).find(|&j| !taken[j] && shaped(&after[j])))
                    .flatten();
                take(&mut out, &mut taken, i, found, method)
            });
            continue;
        }
        // The untaken AFTER connections by key, in order: each BEFORE
        // connection takes the first with its key (linear, not quadratic).
        let mut by_key: HashMap<Key, VecDeque<usize>> = HashMap::new();
        for j in (0..after.len()).filter(|&j| !taken[j]) {
            if let Some(k) = key(&after[j], host, leg) {
                by_key.entry(k).or_default().push_back(j);
            }
        }
        left.retain(|&i| {
            let found = key(&before[i], host, leg)
                .and_then(|k| by_key.get_mut(&k))
                .and_then(VecDeque::pop_front);
            take(&mut out, &mut taken, i, found, method)
        });
    }
    out.only_before = left;
    out.only_after = (0..after.len()).filter(|&j| !taken[j]).collect();
    out.pairs.sort_by_key(|p| (p.before, p.after));
    out
}

/// Which capture a connection is from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SideName {
    Before,
    After,
}

impl SideName {
    fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            SideName::Before => "before",
            SideName::After => "after",
        }
    }
}

/// Where a waiting connection can be found: each pairing method's key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Index {
    /// Target, Host, subprotocol and leg.
    Exact(Key),
    /// Without the leg.
    Legless(Key),
    /// Target and subprotocol.
    Target(Key),
    /// No request: the shape.
    Shape(bool, u64, u64, [u32; 16], [u32; 16]),
}

/// Every index a connection can be found by, surest first.
fn indexes(c: &ConnSummary) -> Vec<Index> {
    match key(c, true, true) {
        Some(k) => {
            let legless = key(c, true, false).expect("has a request");
            let target = key(c, false, false).expect("has a request");
            vec![
                Index::Exact(k),
                Index::Legless(legless),
                Index::Target(target),
            ]
        }
        None => {
            let (b, c2s, s2c) = (c.websocket, c.dirs.c2s.frames, c.dirs.s2c.frames);
            vec![Index::Shape(
                b,
                c2s,
                s2c,
                c.dirs.c2s.opcodes,
                c.dirs.s2c.opcodes,
            )]
        }
    }
}

/// Connections waiting for a partner on one side, in order of arrival (the
/// oldest is given up first when too many wait), findable by each index.
/// Index entries of connections taken by another index go stale and are
/// skipped, and dropped when they outnumber the connections.
#[derive(Default)]
struct Waiting {
    held: BTreeMap<u64, ConnSummary>,
    by: HashMap<Index, VecDeque<u64>>,
    entries: usize,
    arrived: u64,
}

impl Waiting {
    fn hold(&mut self, c: ConnSummary) {
        let id = self.arrived;
        self.arrived += 1;
        for ix in indexes(&c) {
            self.by.entry(ix).or_default().push_back(id);
            self.entries += 1;
        }
        self.held.insert(id, c);
        if self.entries > 4 * self.held.len() + 1024 {
            self.reindex();
        }
    }

    fn reindex(&mut self) {
        self.by.clear();
        self.entries = 0;
        for (&id, c) in &self.held {
            for ix in indexes(c) {
                self.by.entry(ix).or_default().push_back(id);
                self.entries += 1;
            }
        }
    }

    /// The oldest held connection with this index.
    fn take(&mut self, ix: &Index) -> Option<ConnSummary> {
        let q = self.by.get_mut(ix)?;
        let mut found = None;
        while let Some(id) = q.pop_front() {
            self.entries -= 1;
            if let Some(c) = self.held.remove(&id) {
                found = Some(c);
                break;
            }
        }
        if q.is_empty() {
            self.by.remove(ix);
        }
        found
    }

    /// Gives up the connection that has waited longest.
    fn evict(&mut self) -> Option<ConnSummary> {
        self.held.pop_first().map(|(_, c)| c)
    }
}

/// What a connection's arrival settled.
#[derive(Debug)]
pub enum Settled {
    /// BEFORE's and AFTER's connection, paired.
    Pair(Box<ConnSummary>, Box<ConnSummary>, Method),
    /// A connection given up waiting: no partner.
    Unpaired(SideName, Box<ConnSummary>),
}

/// Pairs connections as they end: the `n`-th connection to end with a
/// request key (target, Host, subprotocol, leg) in one capture pairs with
/// the `n`-th in the other, and connections without a request pair by
/// shape. At most `limit` connections wait per side; beyond that the
/// oldest is paired by the less sure keys if it can be, or given up as
/// unpaired: memory stays bounded when the captures hold different traffic.
pub struct Matcher {
    sides: [Waiting; 2],
    limit: usize,
}

impl Matcher {
    pub fn new(limit: usize) -> Matcher {
        Matcher {
            sides: Default::default(),
            limit: limit.max(1),
        }
    }

    /// A connection of `side` ended.
    pub fn push(&mut self, side: SideName, c: ConnSummary) -> Option<Settled> {
        let (me, other) = (side.index(), 1 - side.index());
        let first = indexes(&c).swap_remove(0);
        if let Some(partner) = self.sides[other].take(&first) {
            let method = match first {
                Index::Shape(..) => Method::Shape,
                _ => Method::Request,
            };
            return Some(orient(side, c, partner, method));
        }
        let w = &mut self.sides[me];
        w.hold(c);
        if w.held.len() <= self.limit {
            return None;
        }
        let old = w.evict()?;
        let ix = indexes(&old);
        let lesser = ix.iter().enumerate().skip(1).find_map(|(i, ix)| {
            let m = if i == 1 {
                Method::Request
            } else {
                Method::Target
            };
            self.sides[other].take(ix).map(|p| (p, m))
        });
        Some(match lesser {
            Some((p, m)) => orient(side, old, p, m),
            None => Settled::Unpaired(side, Box::new(old)),
        })
    }

    /// The connections still waiting, paired by the less sure methods.
    pub fn finish(self) -> (Vec<ConnSummary>, Vec<ConnSummary>, Pairing) {
        let [b, a] = self.sides;
        let before: Vec<ConnSummary> = b.held.into_values().collect();
        let after: Vec<ConnSummary> = a.held.into_values().collect();
        let pairing = pair(&before, &after);
        (before, after, pairing)
    }
}

/// `mine` from `side` and its partner, as (BEFORE, AFTER).
fn orient(side: SideName, mine: ConnSummary, partner: ConnSummary, m: Method) -> Settled {
    let (b, a) = match side {
        SideName::Before => (mine, partner),
        SideName::After => (partner, mine),
    };
    Settled::Pair(Box::new(b), Box::new(a), m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Hop;

    /// Both legs on one side, the backend leg alone on the other (a capture
    /// taken on the backend host): the leg alone still finds its partner.
    #[test]
    fn a_leg_alone_pairs_with_its_twin() {
        let both = [
            ConnSummary::for_test(0, "/chat", "proxy:80", Some(Hop::ClientLeg)),
            ConnSummary::for_test(1, "/chat", "backend:8080", Some(Hop::BackendLeg)),
        ];
        let alone = [ConnSummary::for_test(0, "/chat", "backend:8080", None)];
        let p = pair(&both, &alone);
        assert_eq!(p.pairs.len(), 1, "{p:?}");
        assert_eq!((p.pairs[0].before, p.pairs[0].method), (1, Method::Request));
        assert_eq!(p.only_before, [0]);
        // Exact matches come first.
        let p = pair(&both, &both);
        assert!(
            p.pairs
                .iter()
                .all(|x| x.method == Method::Request && x.before == x.after)
        );
    }
}

#[cfg(test)]
mod matcher_tests {
    use super::*;

    fn conn(n: u64, target: &str, host: &str) -> ConnSummary {
        ConnSummary::for_test(n, target, host, None)
    }

    fn pair_of(s: Option<Settled>) -> (u64, u64, Method) {
        match s {
            Some(Settled::Pair(b, a, m)) => (b.conn, a.conn, m),
            other => panic!("not a pair: {other:?}"),
        }
    }

    /// The n-th connection to end with a key pairs with the n-th of the
    /// other side, whichever side comes first.
    #[test]
    fn pairs_in_order_of_arrival() {
        let mut m = Matcher::new(16);
        assert!(m.push(SideName::Before, conn(0, "/a", "h")).is_none());
        assert!(m.push(SideName::Before, conn(1, "/a", "h")).is_none());
        let p = m.push(SideName::After, conn(10, "/a", "h"));
        assert_eq!(pair_of(p), (0, 10, Method::Request));
        assert!(m.push(SideName::After, conn(11, "/b", "h")).is_none());
        let p = m.push(SideName::After, conn(12, "/a", "h"));
        assert_eq!(pair_of(p), (1, 12, Method::Request));
        let (b, a, rest) = m.finish();
        assert_eq!((b.len(), a.len()), (0, 1));
        assert_eq!(rest.only_after, [0]);
    }

    /// Too many waiting: the oldest is paired by a less sure key (here the
    /// Host differs: another proxy port) or given up, so memory stays
    /// bounded whatever the captures hold.
    #[test]
    fn the_oldest_waiting_is_settled_when_too_many_wait() {
        let mut m = Matcher::new(2);
        m.push(SideName::After, conn(10, "/a", "proxy:81"));
        m.push(SideName::Before, conn(0, "/a", "proxy:80"));
        m.push(SideName::Before, conn(1, "/x", "proxy:80"));
        let p = m.push(SideName::Before, conn(2, "/y", "proxy:80"));
        assert_eq!(pair_of(p), (0, 10, Method::Target));
        match m.push(SideName::Before, conn(3, "/z", "proxy:80")) {
            Some(Settled::Unpaired(SideName::Before, c)) => assert_eq!(c.conn, 1),
            other => panic!("{other:?}"),
        }
        let (b, _, rest) = m.finish();
        assert_eq!(b.iter().map(|c| c.conn).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(rest.only_before.len(), 2);
    }

    /// Connections without a request pair by shape as they end; stale
    /// index entries never grow without bound.
    #[test]
    fn shapes_pair_at_once_and_indexes_stay_small() {
        let mut m = Matcher::new(4);
        let bare = |n| {
            let mut c = conn(n, "/", "h");
            c.target = None;
            c
        };
        m.push(SideName::Before, bare(0));
        assert_eq!(pair_of(m.push(SideName::After, bare(1))).2, Method::Shape);
        for n in 0..10_000 {
            m.push(SideName::Before, conn(n, "/a", "h"));
            m.push(SideName::After, conn(n, "/a", "h"));
        }
        let w = &m.sides[0];
        assert!(w.entries <= 4 * w.held.len() + 1024, "{}", w.entries);
    }
}
