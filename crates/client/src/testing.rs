//! A scripted HTTP/1.1 responder for tests (feature `test-util`): answers each request with the
//! next canned `(status, body)` (or [`Reply`], with headers of its choosing) and records what
//! it received, so tests of this crate and of its users (the CLI) can assert on the wire
//! format without a real server.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// One request as the responder saw it.
#[derive(Debug)]
pub struct Recorded {
    /// `GET`, `PUT`, `LIST`, ...
    pub method: String,
    /// Path and query, e.g. `/v1/secret/data/x?version=2`.
    pub path: String,
    /// Header names in lower case, with their values.
    pub headers: Vec<(String, String)>,
    /// The request body as text.
    pub body: String,
}

impl Recorded {
    /// The value of header `name` (case-insensitive), if sent.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }
}

/// One canned answer: a status, a body and its headers (`Content-Type: application/json`
/// unless another content type is given). `Content-Length` and `Connection: close` are added.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status sent.
    pub status: u16,
    /// Headers sent besides `Content-Length` and `Connection`.
    pub headers: Vec<(&'static str, &'static str)>,
    /// The body sent, byte for byte.
    pub body: &'static str,
}

impl Reply {
    /// A JSON answer.
    pub fn new(status: u16, body: &'static str) -> Reply {
        Reply {
            status,
            headers: vec![("Content-Type", "application/json")],
            body,
        }
    }

    /// Adds a header; a `Content-Type` replaces the default one.
    pub fn header(mut self, name: &'static str, value: &'static str) -> Reply {
        if name.eq_ignore_ascii_case("content-type") {
            self.headers
                .retain(|(n, _)| !n.eq_ignore_ascii_case("content-type"));
        }
        self.headers.push((name, value));
        self
    }
}

/// A responder on 127.0.0.1; it stops when the test's runtime does.
pub struct MockServer {
    /// `http://127.0.0.1:PORT`.
    pub addr: String,
    count: Arc<AtomicUsize>,
    requests: tokio::sync::Mutex<mpsc::UnboundedReceiver<Recorded>>,
}

impl MockServer {
    /// Starts answering with `responses` (JSON bodies) in order; past the end it answers 599.
    pub async fn start(responses: Vec<(u16, &'static str)>) -> MockServer {
        let replies = responses
            .into_iter()
            .map(|(status, body)| Reply::new(status, body))
            .collect();
        MockServer::start_replies(replies).await
    }

    /// Starts answering with `replies` in order; past the end it answers 599.
    pub async fn start_replies(replies: Vec<Reply>) -> MockServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = format!(
            "http://{}",
            listener.local_addr().expect("bound socket has an address")
        );
        let (tx, rx) = mpsc::unbounded_channel();
        let count = Arc::new(AtomicUsize::new(0));
        let script = Arc::new(Mutex::new(replies.into_iter()));
        let counter = count.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (tx, script, counter) = (tx.clone(), script.clone(), counter.clone());
                tokio::spawn(async move {
                    let _ = serve_one(stream, tx, script, counter).await;
                });
            }
        });
        MockServer {
            addr,
            count,
            requests: tokio::sync::Mutex::new(rx),
        }
    }

    /// An address where nothing listens (bound, then released).
    pub async fn closed_port_addr() -> String {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("bound socket has an address");
        drop(listener);
        format!("http://{addr}")
    }

    /// Requests received so far.
    pub fn request_count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// The next recorded request, waiting for it if needed.
    pub async fn next_request(&self) -> Recorded {
        self.requests
            .lock()
            .await
            .recv()
            .await
            .expect("the responder records every request")
    }

    /// Every recorded request not yet taken.
    pub async fn drain(&self) -> Vec<Recorded> {
        let mut out = Vec::new();
        let mut rx = self.requests.lock().await;
        while let Ok(r) = rx.try_recv() {
            out.push(r);
        }
        out
    }
}

type Script = Arc<Mutex<std::vec::IntoIter<Reply>>>;

async fn serve_one(
    mut stream: TcpStream,
    tx: mpsc::UnboundedSender<Recorded>,
    script: Script,
    counter: Arc<AtomicUsize>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let method = first.next().unwrap_or_default().to_string();
    let path = first.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < header_end + length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[header_end..]).to_string();
    let next = script.lock().expect("script lock is never poisoned").next();
    let reply = next.unwrap_or_else(|| Reply::new(599, r#"{"errors":["mock script exhausted"]}"#));
    // Record before answering, so a test that saw the answer also sees the request.
    counter.fetch_add(1, Ordering::SeqCst);
    let _ = tx.send(Recorded {
        method,
        path,
        headers,
        body,
    });
    let mut response = format!("HTTP/1.1 {} X\r\n", reply.status);
    for (name, value) in &reply.headers {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n{}",
        reply.body.len(),
        reply.body
    ));
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}
