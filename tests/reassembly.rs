//! TCP reassembly end to end: the same WebSocket conversation cut, reordered,
//! duplicated, damaged and resumed in the ways real captures are, and the
//! exact frames wscap reports for each.

mod common;

use common::*;
use wscap::synth::{Link, Side};

#[test]
fn clean_conversation_reports_every_frame_exactly() {
    let (pkts, sent) = standard_eth();
    let run = analyze(&pcap_us(&Link::Ethernet, &pkts), &[]);
    run.assert_ok();
    assert_frames(&run.frame_keys(), &expect_all(&pkts, &sent));
    println!("{}", serde_json::to_string_pretty(&run.records).unwrap());
}
