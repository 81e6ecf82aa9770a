//! Proxy legs: the two TCP connections of one proxied WebSocket connection
//! (client to proxy, proxy to backend), tied together by the
//! Sec-WebSocket-Key a proxy forwards unchanged (RFC 6455 4.1 makes it a
//! fresh random nonce per connection, so two requests with the same key
//! close together in time are one client's).
//!
//! A leg is known by the Sec-WebSocket-Accept its key implies (RFC 6455
//! 4.2.2), not the key itself: WebSocket over HTTP/2 (RFC 8441) has no key,
//! but a proxy that turns it into an HTTP/1.1 upgrade to its backend may
//! pass the backend's accept back in its 2xx, and that ties the HTTP/2 leg
//! to the HTTP/1.1 one.
//!
//! The earlier request is the client's leg, the later the backend's. When
//! the other leg closed first, its causes are carried over, so the leg a
//! user looks at explains the failure even when it only relays the symptom.

use crate::record::{ConnectionRecord, Diagnosis, Hop, Text};
use crate::time::Timestamp;
use crate::websocket::handshake::accept_for;
use std::collections::HashMap;

/// Requests of two legs of one proxied connection are this close in time.
const LEG_WINDOW_NS: u64 = 10_000_000_000;

/// The id of the leg whose upgrade request carried Sec-WebSocket-Key
/// `key`: the accept it implies.
pub(super) fn leg_id(key: &str) -> Text {
    Text::from(accept_for(key))
}

/// Upgrade requests by leg id.
#[derive(Default)]
pub(super) struct Legs {
    by_key: HashMap<Text, KeyLegs>,
}

/// The connections that sent one Sec-WebSocket-Key.
#[derive(Default)]
struct KeyLegs {
    /// Connections with this key not closed yet; the entry goes at 0.
    open: u32,
    /// At most two: a proxied connection's legs.
    legs: Vec<Leg>,
    /// More than two connections, or two far apart in time, used the key
    /// (test tools reuse the RFC's sample key): nothing is linked.
    ambiguous: bool,
}

/// One connection that sent a given key.
struct Leg {
    conn: u64,
    request_ts: Timestamp,
    /// Once closed: the causes found on it (and where they first showed).
    closed: Option<Vec<Diagnosis>>,
}

impl Legs {
    /// Connection `conn` sent an upgrade request at `ts`, leg id `key`
    /// ([`leg_id`], or the accept an HTTP/2 leg's answer carried).
    pub fn requested(&mut self, key: Text, conn: u64, ts: Timestamp) {
        let e = self.by_key.entry(key).or_insert_with(|| KeyLegs {
            legs: Vec::with_capacity(2),
            ..KeyLegs::default()
        });
        e.open += 1;
        let far = e
            .legs
            .first()
            .is_some_and(|l| l.request_ts.0.abs_diff(ts.0) > LEG_WINDOW_NS);
        if e.legs.len() == 2 || far {
            e.ambiguous = true;
            e.legs.clear();
        } else if !e.ambiguous {
            e.legs.push(Leg {
                conn,
                request_ts: ts,
                closed: None,
            });
        }
    }

    /// The connection of `rec`, leg id `key` (as it was requested), closed:
    /// ties it to its other leg, if any (`other_leg`, and the hop of each
    /// cause), and forgets the id once no connection with it is open.
    pub fn closed(&mut self, key: Option<&Text>, rec: &mut ConnectionRecord) {
        let Some(key) = key else {
            return;
        };
        let Some(entry) = self.by_key.get_mut(key) else {
            return;
        };
        entry.open = entry.open.saturating_sub(1);
        if entry.open == 0 {
            let key = key.clone();
            let entry = self.by_key.remove(&key).expect("present");
            link(rec, &entry.legs);
        } else {
            link(rec, &entry.legs);
            if let Some(me) = entry.legs.iter_mut().find(|l| l.conn == rec.conn) {
                me.closed = Some(rec.diagnosis.clone());
            }
        }
    }

    /// Keys remembered now, for tests.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.by_key.len()
    }
}

fn link(rec: &mut ConnectionRecord, legs: &[Leg]) {
    let [a, b] = legs else { return };
    let (me, other) = match (a.conn == rec.conn, b.conn == rec.conn) {
        (true, _) => (a, b),
        (_, true) => (b, a),
        _ => return,
    };
    rec.other_leg = Some(other.conn);
    let (mine, theirs) = if me.request_ts <= other.request_ts {
        (Hop::ClientLeg, Hop::BackendLeg)
    } else {
        (Hop::BackendLeg, Hop::ClientLeg)
    };
    let Some(their_causes) = &other.closed else {
        for d in &mut rec.diagnosis {
            d.hop = Some(mine);
        }
        return;
    };
    for d in &mut rec.diagnosis {
        let shared = their_causes.iter().any(|t| t.cause == d.cause);
        d.hop = Some(if shared { Hop::Both } else { mine });
    }
    let carried: Vec<Diagnosis> = their_causes
        .iter()
        .filter(|t| !rec.diagnosis.iter().any(|d| d.cause == t.cause))
        .map(|t| {
            let mut d = t.clone();
            d.hop = Some(theirs);
            let note = format!(
                "seen on the other leg of this proxied connection (conn {})",
                other.conn
            );
            d.evidence.insert(0, note);
            d
        })
        .collect();
    rec.diagnosis.extend(carried);
}
