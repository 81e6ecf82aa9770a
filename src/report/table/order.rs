//! The order connection blocks are printed in.
//!
//! Connection records arrive as connections end, but a person reads a
//! capture from its start: when ordered, blocks are printed in the order
//! of the connections' first packets, which is the order of their `conn`
//! numbers (assigned at the first packet). A finished block is held, as
//! rendered text, until every connection numbered before it has been
//! printed or skipped, so output still flows while the capture is read.
//! Live runs print blocks as connections end ([`Order::new`] with
//! `ordered: false`).
//!
//! Memory: held text is capped ([`HELD_BYTES`]); a long connection open
//! from the start of a busy capture would otherwise hold every block after
//! it. Past the cap the held blocks are printed in order and the rest
//! come as connections end (the table says so). Connections finished
//! without a block (not shown) are kept as ranges of numbers, so a run of
//! them costs one entry; the ranges are capped as well ([`HELD_RANGES`]).

use std::collections::BTreeMap;

/// Rendered text held for connections waiting on an earlier one.
pub const HELD_BYTES: usize = 32 << 20;

/// Ranges of finished, unshown connections held.
const HELD_RANGES: usize = 1 << 16;

/// Bytes a held block costs beyond its text (map entry, headers).
const BLOCK_OVERHEAD: usize = 64;

/// One connection's rendered block.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Block {
    /// A one-line entry (a connection that is not WebSocket, with --all):
    /// consecutive ones are listed without blank lines between them.
    pub one_line: bool,
    pub text: Vec<u8>,
}

pub struct Order {
    ordered: bool,
    /// The lowest connection number not yet printed or skipped.
    next: u64,
    /// Finished connections after `next`, with their blocks.
    blocks: BTreeMap<u64, Block>,
    /// Finished connections after `next` that have no block: first → last.
    skipped: BTreeMap<u64, u64>,
    held_bytes: usize,
    cap: usize,
}

impl Order {
    pub fn new(ordered: bool) -> Order {
        Order::with_cap(ordered, HELD_BYTES)
    }

    pub fn with_cap(ordered: bool, cap: usize) -> Order {
        Order {
            ordered,
            next: 0,
            blocks: BTreeMap::new(),
            skipped: BTreeMap::new(),
            held_bytes: 0,
            cap,
        }
    }

    /// The connection the held blocks wait for.
    pub fn waiting_for(&self) -> u64 {
        self.next
    }

    /// Connection `conn` finished with `block` (`None`: nothing to print).
    /// Returns the blocks that can be printed now, in order.
    pub fn finish(&mut self, conn: u64, block: Option<Block>) -> Vec<Block> {
        if !self.ordered || conn < self.next {
            return block.into_iter().collect();
        }
        match block {
            Some(b) => {
                self.held_bytes += b.text.len() + BLOCK_OVERHEAD;
                self.blocks.insert(conn, b);
            }
            None => self.skip(conn),
        }
        let mut ready = Vec::new();
        loop {
            if let Some(b) = self.blocks.remove(&self.next) {
                self.held_bytes -= b.text.len() + BLOCK_OVERHEAD;
                ready.push(b);
                self.next += 1;
            } else if let Some(last) = self.skipped.remove(&self.next) {
                self.next = last + 1;
            } else {
                return ready;
            }
        }
    }

    /// Whether more is held than the cap allows.
    pub fn over_cap(&self) -> bool {
        self.held_bytes > self.cap || self.skipped.len() > HELD_RANGES
    }

    /// Every held block, in order; from now on blocks come as they finish.
    pub fn release(&mut self, unordered: bool) -> Vec<Block> {
        if unordered {
            self.ordered = false;
        }
        self.skipped.clear();
        self.held_bytes = 0;
        if let Some((&last, _)) = self.blocks.last_key_value() {
            self.next = self.next.max(last + 1);
        }
        std::mem::take(&mut self.blocks).into_values().collect()
    }

    /// Adds `conn` to the ranges of skipped numbers, joining neighbours.
    fn skip(&mut self, conn: u64) {
        let mut first = conn;
        let mut last = conn;
        if let Some((&f, &l)) = self.skipped.range(..conn).next_back()
            && l.checked_add(1) == Some(conn)
        {
            first = f;
        }
        if let Some(l) = conn.checked_add(1).and_then(|n| self.skipped.remove(&n)) {
            last = l;
        }
        self.skipped.insert(first, last);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(s: &str) -> Option<Block> {
        Some(Block {
            one_line: false,
            text: s.as_bytes().to_vec(),
        })
    }

    fn texts(v: Vec<Block>) -> Vec<String> {
        v.into_iter()
            .map(|b| String::from_utf8(b.text).unwrap())
            .collect()
    }

    #[test]
    fn blocks_come_in_order_of_first_packet() {
        let mut o = Order::new(true);
        assert!(texts(o.finish(2, block("2"))).is_empty());
        assert!(texts(o.finish(1, None)).is_empty());
        assert!(texts(o.finish(4, block("4"))).is_empty());
        assert_eq!(texts(o.finish(0, block("0"))), ["0", "2"]);
        assert_eq!(texts(o.finish(3, None)), ["4"]);
        assert_eq!(o.waiting_for(), 5);
        assert_eq!(o.held_bytes, 0);
    }

    #[test]
    fn skipped_numbers_are_ranges() {
        let mut o = Order::new(true);
        for c in (1..1000).rev() {
            assert!(o.finish(c, None).is_empty());
        }
        assert_eq!(o.skipped.len(), 1);
        for c in (1001..2000).step_by(2) {
            o.finish(c, None);
        }
        assert_eq!(o.skipped.len(), 501);
        assert_eq!(texts(o.finish(0, block("0"))), ["0"]);
        assert_eq!(o.waiting_for(), 1000);
    }

    #[test]
    fn unordered_prints_at_once() {
        let mut o = Order::new(false);
        assert_eq!(texts(o.finish(3, block("3"))), ["3"]);
        assert!(o.finish(1, None).is_empty());
        assert_eq!(texts(o.finish(0, block("0"))), ["0"]);
    }

    #[test]
    fn past_the_cap_held_blocks_are_released() {
        let mut o = Order::with_cap(true, 200);
        o.finish(1, block("1"));
        o.finish(2, block("2"));
        assert!(!o.over_cap());
        o.finish(3, block(&"3".repeat(100)));
        assert!(o.over_cap());
        assert_eq!(o.release(true).len(), 3);
        assert!(!o.ordered);
        assert_eq!(texts(o.finish(0, block("0"))), ["0"]);
        assert_eq!(texts(o.finish(5, block("5"))), ["5"]);
    }
}
