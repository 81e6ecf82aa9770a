//! Diagnosis rules on hand-built connection records and evidence.

use super::*;
use crate::finding::Finding;
use crate::record::PerDir;
use crate::time::Timestamp;

/// A WebSocket connection that ended with FIN, nothing found.
fn record() -> ConnectionRecord {
    ConnectionRecord {
        request: None,
        first_ts: Timestamp(0),
        last_ts: Timestamp(10_000_000_000),
        last_frame_ts: Some(Timestamp(9_000_000_000)),
        frames: PerDir { c2s: 3, s2c: 3 },
        ..ConnectionRecord::example()
    }
}

fn with_finding(mut rec: ConnectionRecord, code: Code) -> ConnectionRecord {
    rec.findings.push(Finding::new(code, "x").at(7));
    rec.findings_by_code.add(code, 1);
    rec.findings_by_severity.add(code.severity(), 1);
    rec
}

fn causes(rec: &ConnectionRecord, ev: &Evidence) -> Vec<Cause> {
    diagnose(rec, ev).iter().map(|d| d.cause).collect()
}

fn closed_both_ways(codes: [Option<u16>; 2]) -> Evidence {
    Evidence {
        closes: PerDir {
            c2s: Some(CloseEvidence {
                code: codes[0],
                packet: 15,
            }),
            s2c: Some(CloseEvidence {
                code: codes[1],
                packet: 16,
            }),
        },
        ..Evidence::default()
    }
}

/// Every error finding leads to a diagnosis that names it, whether it is
/// found on the connection or on a frame.
#[test]
fn every_error_finding_is_diagnosed() {
    for &code in Code::ALL.iter().filter(|c| c.severity() == Severity::Error) {
        let mut rec = with_finding(record(), code);
        if code == Code::HandshakeRejected {
            rec.response = None;
        }
        let frames = vec![FrameEvidence {
            code,
            packet: 7,
            dir: Dir::ClientToServer,
            detail: "x".into(),
        }];
        let ev = Evidence {
            frames,
            ..Evidence::default()
        };
        let all = diagnose(&rec, &ev);
        assert!(
            all.iter().any(|d| d.codes.contains(&code)),
            "{code}: {:?}",
            all.iter().map(|d| d.cause).collect::<Vec<_>>()
        );
    }
}

/// RFC 6455 5.5.1: close frames without a body are close frames.
#[test]
fn empty_close_frames_are_a_close() {
    let rec = record();
    assert!(causes(&rec, &Evidence::default()).contains(&Cause::ClosedWithoutCloseFrame));
    assert!(causes(&rec, &closed_both_ways([None, None])).is_empty());
}

/// A close code saying the closing side failed is diagnosed with who,
/// what it means and where.
#[test]
fn error_close_codes_are_diagnosed() {
    let rec = record();
    let all = diagnose(&rec, &closed_both_ways([Some(1000), Some(1011)]));
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].cause, Cause::ClosedWithErrorCode);
    assert_eq!(all[0].packet, Some(16));
    assert!(
        all[0]
            .summary
            .starts_with("the server closed the connection with 1011 (internal error)")
    );
    assert!(all[0].fix[0].contains("log"));
    for code in [1003, 1008, 1010, 1012, 1013, 1014] {
        let all = causes(&rec, &closed_both_ways([Some(code), None]));
        assert_eq!(all, [Cause::ClosedWithErrorCode], "{code}");
    }
    // A 1002 answering an error the capture shows is that error's.
    let masked = with_finding(record(), Code::UnmaskedClientFrame);
    let all = causes(&masked, &closed_both_ways([None, Some(1002)]));
    assert_eq!(all, [Cause::WrongMasking]);
    // A normal close is nothing to diagnose.
    assert!(causes(&rec, &closed_both_ways([Some(1000), Some(1001)])).is_empty());
}

/// The idle-timeout advice only when the silence before the cut fits one.
#[test]
fn idle_timeout_advice_follows_the_silence() {
    let mut rec = record();
    rec.last_frame_ts = Some(Timestamp(8_000_000_000));
    let after_silence = diagnose(&rec, &Evidence::default());
    assert!(
        after_silence[0].summary.contains("2 s of silence"),
        "{after_silence:?}"
    );
    assert!(after_silence[0].fix[0].contains("ping"));
    rec.last_frame_ts = Some(rec.last_ts);
    let at_once = diagnose(&rec, &Evidence::default());
    assert!(at_once[0].summary.contains("right after its last frame"));
    assert!(
        !at_once[0].fix.iter().any(|f| f.contains("timeout")),
        "{at_once:?}"
    );
    // A client abandoning a 101 it cannot accept: the handshake alone.
    let broken = with_finding(record(), Code::BadAcceptKey);
    assert_eq!(
        causes(&broken, &Evidence::default()),
        [Cause::HandshakeAnswerBroken]
    );
}

/// RFC 8441 3 broken by the client: the diagnosis follows what the server
/// did with the stream, refused (enable it there) or accepted (the client
/// is at fault, and a stricter server would refuse).
#[test]
fn http2_connect_not_enabled_follows_the_server() {
    let rec = with_finding(record(), Code::H2ConnectNotEnabled);
    let refused = with_finding(
        ConnectionRecord {
            websocket: false,
            ..rec.clone()
        },
        Code::H2ConnectRejected,
    );
    let all = diagnose(&refused, &Evidence::default());
    let d = all
        .iter()
        .find(|d| d.cause == Cause::Http2WebsocketNotEnabled)
        .unwrap();
    assert!(d.summary.contains("refused"), "{}", d.summary);
    assert!(d.fix[0].starts_with("enable WebSocket over HTTP/2"));
    let all = diagnose(&rec, &Evidence::default());
    let d = all
        .iter()
        .find(|d| d.cause == Cause::Http2WebsocketNotEnabled)
        .unwrap();
    assert!(d.summary.contains("accepted it anyway"), "{}", d.summary);
    assert!(d.fix[0].starts_with("make the client honour the setting"));
}
