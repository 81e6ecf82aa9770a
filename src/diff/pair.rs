//! Pairing connections across two captures whose ports, addresses and
//! timing differ: by what the client asked for (request target, Host,
//! subprotocol) in order of appearance, then by shape (frames and opcodes
//! per direction) for what is left.

use super::summary::ConnSummary;
use serde::Serialize;

/// How a pair was made, from surest to least sure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Same target, Host and subprotocol, same place among those.
    Request,
    /// Same target and subprotocol (the Host differs: another port or
    /// name), same place among those.
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

/// What the client asked for; `with_host`: the Host too.
fn key(c: &ConnSummary, with_host: bool) -> Option<Key> {
    c.target.as_ref()?;
    let host = if with_host { c.host.clone() } else { None };
    Some((c.target.clone(), host, c.subprotocol.clone(), c.leg))
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

/// Pairs `before` with `after` (both in order of first packet).
pub fn pair(before: &[ConnSummary], after: &[ConnSummary]) -> Pairing {
    let mut taken = vec![false; after.len()];
    let mut out = Pairing::default();
    let mut left: Vec<usize> = (0..before.len()).collect();
    for method in [Method::Request, Method::Target, Method::Shape] {
        left.retain(|&i| {
            let b = &before[i];
            let matches = |a: &ConnSummary| match method {
                Method::Request => key(b, true).is_some() && key(a, true) == key(b, true),
                Method::Target => key(b, false).is_some() && key(a, false) == key(b, false),
                Method::Shape => {
                    key(a, false).is_none() && key(b, false).is_none() && shape(a) == shape(b)
                }
            };
            let Some(j) = (0..after.len()).find(|&j| !taken[j] && matches(&after[j])) else {
                return true;
            };
            taken[j] = true;
            out.pairs.push(Pair {
                before: i,
                after: j,
                method,
            });
            false
        });
    }
    out.only_before = left;
    out.only_after = (0..after.len()).filter(|&j| !taken[j]).collect();
    out.pairs.sort_by_key(|p| (p.before, p.after));
    out
}
