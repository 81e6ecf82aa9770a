//! Damaged and wrong input: wscap reports what it read before the damage,
//! says on stderr which file, at which byte and what it expected, puts the
//! same message in the summary's `input_errors`, and exits with status 2.

mod common;

use common::*;
use serde_json::json;
use wscap::synth::{ByteOrder, Link, PcapNgWriter};

/// The standard capture as pcap, with the byte offset where each record
/// starts.
fn pcap_with_offsets(pkts: &[Pkt]) -> (Vec<u8>, Vec<usize>) {
    let bytes = pcap_us(&Link::Ethernet, pkts);
    let mut offsets = Vec::new();
    let mut at = 24;
    for p in pkts {
        offsets.push(at);
        at += 16 + p.synth.data.len();
    }
    assert_eq!(at, bytes.len());
    (bytes, offsets)
}

/// The standard capture as pcapng (one interface), with the byte offset
/// where each packet's block starts.
fn pcapng_with_offsets(pkts: &[Pkt], order: ByteOrder) -> (Vec<u8>, Vec<usize>) {
    let mut w = PcapNgWriter::new(Vec::new(), order);
    w.section().unwrap();
    let id = w.interface(1, 0, Some(9), None).unwrap();
    let mut offsets = Vec::new();
    for p in pkts {
        offsets.push(w.get_mut().len());
        w.write_synth(id, &p.synth).unwrap();
    }
    (w.into_inner(), offsets)
}

/// The clean expectation, keeping only frames whose last byte came before
/// packet `damaged` (1-based).
fn frames_before(pkts: &[Pkt], sent: &[Sent], damaged: u64) -> Vec<FrameKey> {
    let mut keys: Vec<FrameKey> = expect_all(pkts, sent)
        .into_iter()
        .filter(|f| f.last_packet < damaged)
        .collect();
    keys.sort();
    keys
}

/// Exit status 2, the message on stderr (once, prefixed) and in the summary.
#[track_caller]
fn assert_damage(run: &Run, message: &str) {
    assert_eq!(run.status, 2, "stderr: {}", run.stderr);
    assert_eq!(run.stderr, format!("wscap: {message}\n"));
    assert_eq!(run.summary()["input_errors"], json!([message]));
}

/// The frames reported that are complete.
fn complete_frames(run: &Run) -> Vec<FrameKey> {
    run.frame_keys()
        .into_iter()
        .filter(|f| f.complete)
        .collect()
}

#[test]
fn pcap_truncated_inside_a_record() {
    let (pkts, sent) = standard_eth();
    let (bytes, offsets) = pcap_with_offsets(&pkts);
    // Packet 100 (mid-conversation) keeps its record header and 10 bytes.
    let k = 99;
    let cut = &bytes[..offsets[k] + 16 + 10];
    let f = TempFile::new("cut.pcap", cut);
    let run = analyze_paths(&[&f.path], &[]);
    let len = pkts[k].synth.data.len();
    assert_damage(
        &run,
        &format!(
            "{}: truncated at byte {}: a {}-byte packet record (16-byte header and {len} captured bytes), only 26 bytes remain",
            f.path_str(),
            offsets[k],
            16 + len
        ),
    );
    // Everything read before the damage is reported: the frames that ended
    // before packet 100 exactly, the connection (ended by the damage), and
    // the frame that was in progress, as incomplete.
    let expected = frames_before(&pkts, &sent, 100);
    assert!(expected.len() >= 6);
    assert_frames(&complete_frames(&run), &expected);
    let partial: Vec<FrameKey> = run
        .frame_keys()
        .into_iter()
        .filter(|f| !f.complete)
        .collect();
    assert_eq!(partial.len(), 1, "{partial:?}");
    assert_eq!(partial[0].codes, ["incomplete_frame_at_end"]);
    let conns = run.conns();
    assert_eq!(conns.len(), 1);
    assert_eq!(conns[0]["end"], "end-of-capture");
    assert_eq!(conns[0]["last_packet"], 99);
    assert_eq!(run.summary()["packets"], 99);
}

#[test]
fn pcap_truncated_last_record_and_record_header() {
    let (pkts, sent) = standard_eth();
    let (bytes, offsets) = pcap_with_offsets(&pkts);
    let last = *offsets.last().unwrap();
    // Inside the last record's data, then inside its header.
    for (keep, what) in [
        (
            16 + 20,
            format!(
                "a {}-byte packet record (16-byte header and {} captured bytes), only 36 bytes remain",
                16 + pkts.last().unwrap().synth.data.len(),
                pkts.last().unwrap().synth.data.len()
            ),
        ),
        (
            7,
            "a 16-byte packet record header, only 7 bytes remain".to_string(),
        ),
    ] {
        let f = TempFile::new("cut.pcap", &bytes[..last + keep]);
        let run = analyze_paths(&[&f.path], &[]);
        assert_damage(
            &run,
            &format!("{}: truncated at byte {last}: {what}", f.path_str()),
        );
        // The last packet is the final ACK: every frame and the connection
        // are complete.
        assert_frames(&run.frame_keys(), &expect_all(&pkts, &sent));
        assert_eq!(run.conns().len(), 1);
        assert_eq!(run.conns()[0]["end"], "fin");
        assert_eq!(run.summary()["frames"], 14);
    }
}

#[test]
fn pcapng_truncated_last_block() {
    let (pkts, sent) = standard_eth();
    for order in [ByteOrder::Little, ByteOrder::Big] {
        let (bytes, offsets) = pcapng_with_offsets(&pkts, order);
        let last = *offsets.last().unwrap();
        let block_len = bytes.len() - last;
        let f = TempFile::new("cut.pcapng", &bytes[..bytes.len() - 4]);
        let run = analyze_paths(&[&f.path], &[]);
        assert_damage(
            &run,
            &format!(
                "{}: truncated at byte {last}: a {block_len}-byte enhanced packet block, only {} bytes remain",
                f.path_str(),
                block_len - 4
            ),
        );
        assert_frames(&run.frame_keys(), &expect_all(&pkts, &sent));
        assert_eq!(run.summary()["packets"], pkts.len() as u64 - 1);
    }
}

#[test]
fn pcapng_block_with_a_wrong_trailing_length() {
    let (pkts, sent) = standard_eth();
    for order in [ByteOrder::Little, ByteOrder::Big] {
        let (mut bytes, offsets) = pcapng_with_offsets(&pkts, order);
        let k = 120;
        let (start, end) = (offsets[k], offsets[k + 1]);
        let len = (end - start) as u32;
        let wrong = len + 8;
        let trailer = match order {
            ByteOrder::Little => wrong.to_le_bytes(),
            ByteOrder::Big => wrong.to_be_bytes(),
        };
        bytes[end - 4..end].copy_from_slice(&trailer);
        let f = TempFile::new("corrupt.pcapng", &bytes);
        let run = analyze_paths(&[&f.path], &[]);
        assert_damage(
            &run,
            &format!(
                "{}: corrupt data at byte {start}: enhanced packet block begins with length {len} but ends with length {wrong}",
                f.path_str()
            ),
        );
        assert_frames(
            &complete_frames(&run),
            &frames_before(&pkts, &sent, k as u64 + 1),
        );
        assert_eq!(run.summary()["packets"], k as u64);
        assert_eq!(run.conns().len(), 1);
    }
}

#[test]
fn not_a_capture() {
    let f = TempFile::new("page.html", b"<!DOCTYPE html><html>not a capture</html>");
    let run = analyze_paths(&[&f.path], &[]);
    assert_damage(
        &run,
        &format!(
            "{}: not a pcap or pcapng capture (starts with 3c 21 44 4f 43 54 59 50 \"<!DOCTYP\"; expected pcap magic a1b2c3d4/a1b23c4d in either byte order, pcapng 0a0d0d0a, or gzip 1f8b)",
            f.path_str()
        ),
    );
    assert_eq!(run.records.len(), 1, "only the summary");
    assert_eq!(run.summary()["packets"], 0);
}

#[test]
fn empty_file_and_empty_gzip() {
    let f = TempFile::new("empty.pcap", b"");
    let run = analyze_paths(&[&f.path], &[]);
    assert_damage(
        &run,
        &format!(
            "{}: not a pcap or pcapng capture (starts with nothing: the input is empty; expected pcap magic a1b2c3d4/a1b23c4d in either byte order, pcapng 0a0d0d0a, or gzip 1f8b)",
            f.path_str()
        ),
    );
    let g = TempFile::new("empty.pcap.gz", &gzip(b""));
    let run = analyze_paths(&[&g.path], &[]);
    assert_eq!(run.status, 2);
    assert!(
        run.stderr
            .contains("nothing: the input is empty after gzip decompression"),
        "{}",
        run.stderr
    );
    // Empty standard input too.
    let run = wscap(&["-"], Some(b""));
    assert_eq!(run.status, 2);
    assert!(
        run.stderr.starts_with("wscap: -: not a pcap"),
        "{}",
        run.stderr
    );
}

#[test]
fn truncated_gzip() {
    let (pkts, sent) = standard_eth();
    let (plain, offsets) = pcap_with_offsets(&pkts);
    let gz = gzip(&plain);
    let cut = &gz[..gz.len() / 2];
    let f = TempFile::new("cut.pcap.gz", cut);
    let run = analyze_paths(&[&f.path], &[]);
    assert_eq!(run.status, 2, "{}", run.stderr);
    // "<file>: truncated at byte N: the gzip stream ends early (...)", N
    // being where the record that could not be read starts.
    let prefix = format!("wscap: {}: truncated at byte ", f.path_str());
    let rest = run
        .stderr
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{}", run.stderr));
    let (n, why) = rest.split_once(": ").unwrap();
    let n: usize = n.parse().unwrap();
    assert!(why.starts_with("the gzip stream ends early"), "{why}");
    let k = offsets
        .iter()
        .position(|&o| o == n)
        .unwrap_or_else(|| panic!("{n} is not where a record starts"));
    assert!(k > 20, "only {k} packets read from half the file");
    assert_eq!(run.summary()["packets"], k as u64);
    assert_eq!(run.summary()["input_errors"].as_array().unwrap().len(), 1);
    assert_frames(
        &complete_frames(&run),
        &frames_before(&pkts, &sent, k as u64 + 1),
    );
}

#[test]
fn nonexistent_file() {
    let path = std::env::temp_dir().join(format!("wscap-it-{}-missing.pcap", std::process::id()));
    let p = path.to_str().unwrap();
    let run = wscap(&["analyze", p], None);
    assert_damage(
        &run,
        &format!("{p}: No such file or directory (os error 2)"),
    );
    assert_eq!(run.summary()["files"], json!([p]));
}

#[test]
fn damaged_file_does_not_stop_the_next_one() {
    let (pkts, sent) = standard_eth();
    let bad = TempFile::new("bad.pcap", b"garbage!garbage!garbage!garbage!");
    let good = TempFile::new("good.pcap", &pcap_us(&Link::Ethernet, &pkts));
    let run = analyze_paths(&[&bad.path, &good.path], &[]);
    assert_eq!(run.status, 2);
    assert_frames(&run.frame_keys(), &expect_all(&pkts, &sent));
    assert_eq!(run.summary()["input_errors"].as_array().unwrap().len(), 1);
    assert!(run.stderr.contains(bad.path_str()));
}

#[test]
fn bad_arguments_exit_with_status_2() {
    for args in [
        &["analyze", "--format", "xml", "x.pcap"][..],
        &["analyze"][..],
        &["analyze", "--port", "http", "x.pcap"][..],
        &["analyze", "--fail-on", "fatal", "x.pcap"][..],
    ] {
        let run = wscap(args, None);
        assert_eq!(run.status, 2, "{args:?}");
        assert!(run.records.is_empty(), "{args:?}");
        assert!(!run.stderr.is_empty());
    }
}
