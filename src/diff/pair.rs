//! Pairing connections across two captures whose ports, addresses and
//! timing differ: by what the client asked for (request target, Host,
//! subprotocol) in order of appearance, then by shape (frames and opcodes
//! per direction) for what is left.

use super::summary::ConnSummary;
use serde::Serialize;
use std::collections::{HashMap, VecDeque};

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

/// Pairs `before` with `after` (both in order of first packet).
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
