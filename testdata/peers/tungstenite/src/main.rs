//! tokio-tungstenite peer for the wscap test captures.
//!
//!   wscap-tungstenite-peer server --port N [--host H]   echo server, prints READY
//!   wscap-tungstenite-peer client echo|short --port N [--host H]
//!
//! Bounded: the server exits after 30 s, the client sends a fixed list of
//! messages and gives up after 30 s.
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_string())
}

fn describe(m: &Message) -> String {
    match m {
        Message::Text(t) => format!("text {} B", t.len()),
        Message::Binary(b) => format!("binary {} B", b.len()),
        Message::Ping(p) => format!("ping {:?}", String::from_utf8_lossy(p)),
        Message::Pong(p) => format!("pong {:?}", String::from_utf8_lossy(p)),
        Message::Close(c) => format!("close {:?}", c.as_ref().map(|c| (u16::from(c.code), c.reason.to_string()))),
        Message::Frame(_) => "raw frame".to_string(),
    }
}

async fn serve_one(stream: TcpStream) {
    let mut ws = match tokio_tungstenite::accept_async(stream).await {
        Ok(ws) => ws,
        Err(e) => {
            eprintln!("server: handshake failed: {e}");
            return;
        }
    };
    while let Some(msg) = ws.next().await {
        match msg {
            Ok(m @ (Message::Text(_) | Message::Binary(_))) => {
                eprintln!("server: echo {}", describe(&m));
                if ws.send(m).await.is_err() {
                    break;
                }
            }
            Ok(m) => eprintln!("server: got {}", describe(&m)), // pings are answered by tungstenite
            Err(e) => {
                eprintln!("server: error: {e}");
                break;
            }
        }
    }
    eprintln!("server: connection done");
}

async fn server(host: &str, port: &str) {
    let listener = TcpListener::bind(format!("{host}:{port}")).await.expect("bind");
    println!("READY");
    let lifetime = tokio::time::sleep(Duration::from_secs(30));
    tokio::pin!(lifetime);
    loop {
        tokio::select! {
            _ = &mut lifetime => { eprintln!("server: lifetime over, exiting"); return; }
            acc = listener.accept() => {
                if let Ok((s, _)) = acc { tokio::spawn(serve_one(s)); }
            }
        }
    }
}

fn blob(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

/// echo: text, binary, 70000 B binary, 300 B text, ping, close 1000 "done".
/// short: text, binary, 200 B text, close 1000 "done".
async fn client_echo(host: &str, port: &str, scenario: &str) {
    let host = if host.contains(':') { format!("[{host}]") } else { host.to_string() };
    let (mut ws, resp) = tokio_tungstenite::connect_async(format!("ws://{host}:{port}/tungstenite-{scenario}"))
        .await
        .expect("connect");
    eprintln!("client: upgraded, HTTP {}", resp.status());
    let msgs = if scenario == "short" {
        vec![
            Message::Text("Hello from tungstenite".into()),
            Message::Binary(vec![0u8, 1, 2, 3, 4, 5, 6, 7, 8, 9].into()),
            Message::Text("y".repeat(200).into()),
        ]
    } else {
        vec![
            Message::Text("Hello from tungstenite".into()),
            Message::Binary(vec![0u8, 1, 2, 3, 4, 5, 6, 7, 8, 9].into()),
            Message::Binary(blob(70000).into()),
            Message::Text("x".repeat(300).into()),
        ]
    };
    for m in msgs {
        let want = m.clone();
        ws.send(m).await.expect("send");
        loop {
            let got = ws.next().await.expect("eof").expect("read");
            if got.is_text() || got.is_binary() {
                eprintln!("client: {} -> {} {}", describe(&want), describe(&got),
                    if got == want { "OK" } else { "MISMATCH" });
                break;
            }
            eprintln!("client: got {}", describe(&got));
        }
    }
    if scenario != "short" {
        ws.send(Message::Ping(b"ping-payload".to_vec().into())).await.expect("ping");
        loop {
            let got = ws.next().await.expect("eof").expect("read");
            eprintln!("client: got {}", describe(&got));
            if got.is_pong() {
                break;
            }
        }
    }
    ws.close(Some(CloseFrame { code: CloseCode::Normal, reason: "done".into() }))
        .await
        .expect("close");
    while let Some(m) = ws.next().await {
        match m {
            Ok(m) => eprintln!("client: got {}", describe(&m)),
            Err(e) => {
                eprintln!("client: {e}");
                break;
            }
        }
    }
    eprintln!("client: closed");
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let host = arg(&args, "--host", "127.0.0.1");
    let port = arg(&args, "--port", "18100");
    match args.get(1).map(String::as_str) {
        Some("server") => server(&host, &port).await,
        Some("client") => {
            let scenario = args.get(2).map(String::as_str).unwrap_or("echo");
            let run = client_echo(&host, &port, scenario);
            if tokio::time::timeout(Duration::from_secs(30), run).await.is_err() {
                eprintln!("client: timed out");
                std::process::exit(1);
            }
        }
        _ => {
            eprintln!("usage: server|client echo|short --port N [--host H]");
            std::process::exit(2);
        }
    }
}
