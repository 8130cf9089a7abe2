//! A minimal RESP2 client: one [`Conn`] is one authenticated TCP (or TLS) connection that
//! sends a command as an array of bulk strings and reads one reply.
//!
//! Only what the plugin needs: `AUTH`, `PING`, `ACL SETUSER|DELUSER|SAVE|WHOAMI`. Replies are
//! parsed with limits (bulk size, array length, nesting depth), so a misbehaving server cannot
//! make us allocate without bound or recurse deeply. Encoded commands carry passwords, so
//! their buffers are zeroed when dropped.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader,
};
use tokio::net::TcpStream;
use zeroize::Zeroizing;

/// The largest bulk string accepted (an `INFO` reply is a few KiB).
const MAX_BULK: usize = 4 << 20;
/// The longest array accepted.
const MAX_ARRAY: usize = 1 << 16;
/// Nested arrays deeper than this are refused.
const MAX_DEPTH: usize = 4;
/// The longest status or error line accepted.
const MAX_LINE: usize = 64 << 10;

/// One reply.
#[derive(Debug, PartialEq)]
pub(crate) enum Reply {
    Status(String),
    /// `-ERR …`: the command failed; the connection is still usable.
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

/// Why talking to the server failed. None of these carry a command's arguments.
#[derive(Debug)]
pub(crate) enum ConnError {
    Io(io::Error),
    Timeout(&'static str),
    /// The server sent something that is not RESP2, or over our limits.
    Protocol(&'static str),
    /// `AUTH` was refused (the server's error text).
    Auth(String),
}

impl std::fmt::Display for ConnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnError::Io(e) => write!(f, "{e}"),
            ConnError::Timeout(what) => write!(f, "timed out {what}"),
            ConnError::Protocol(what) => write!(f, "protocol error: {what}"),
            ConnError::Auth(reply) => write!(f, "authentication failed: {reply}"),
        }
    }
}

impl From<io::Error> for ConnError {
    fn from(e: io::Error) -> Self {
        ConnError::Io(e)
    }
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Where and as whom to connect.
pub(crate) struct Endpoint {
    pub(crate) host: String,
    pub(crate) port: u16,
    /// Empty: `AUTH <password>` (the `default` user), or no `AUTH` without a password.
    pub(crate) username: String,
    pub(crate) password: Zeroizing<String>,
}

/// One open, authenticated connection.
pub(crate) struct Conn {
    io: BufReader<Box<dyn Stream>>,
}

impl Conn {
    /// Connects (TCP, then TLS when `tls` is given) and authenticates, within `limit`.
    pub(crate) async fn open(
        endpoint: &Endpoint,
        tls: Option<(Arc<ClientConfig>, ServerName<'static>)>,
        limit: Duration,
    ) -> Result<Conn, ConnError> {
        let connect = async {
            let tcp = TcpStream::connect((endpoint.host.as_str(), endpoint.port)).await?;
            tcp.set_nodelay(true)?;
            let stream: Box<dyn Stream> = match tls {
                None => Box::new(tcp),
                Some((config, name)) => {
                    let connector = tokio_rustls::TlsConnector::from(config);
                    Box::new(connector.connect(name, tcp).await?)
                }
            };
            let mut conn = Conn {
                io: BufReader::new(stream),
            };
            if !endpoint.password.is_empty() {
                let mut args: Vec<&[u8]> = vec![b"AUTH"];
                if !endpoint.username.is_empty() {
                    args.push(endpoint.username.as_bytes());
                }
                args.push(endpoint.password.as_bytes());
                match conn.call(&args).await? {
                    Reply::Status(s) if s == "OK" => {}
                    Reply::Error(e) => return Err(ConnError::Auth(e)),
                    _ => return Err(ConnError::Protocol("unexpected reply to AUTH")),
                }
            } else {
                // Without AUTH nothing would have crossed the connection yet: prove it works.
                conn.call(&[b"PING"]).await?;
            }
            Ok(conn)
        };
        tokio::time::timeout(limit, connect)
            .await
            .map_err(|_| ConnError::Timeout("connecting"))?
    }

    /// Sends one command and reads its reply. An `Err` means the connection is unusable; a
    /// command the server refused is `Ok(Reply::Error(…))`.
    pub(crate) async fn call(&mut self, args: &[&[u8]]) -> Result<Reply, ConnError> {
        let frame = encode(args);
        self.io.get_mut().write_all(&frame).await?;
        self.io.get_mut().flush().await?;
        read_reply(&mut self.io, 0).await
    }
}

/// `*<n>\r\n` then `$<len>\r\n<arg>\r\n` per argument.
pub(crate) fn encode(args: &[&[u8]]) -> Zeroizing<Vec<u8>> {
    let size = 16 + args.iter().map(|a| a.len() + 16).sum::<usize>();
    let mut out = Zeroizing::new(Vec::with_capacity(size));
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Reads one `\r\n`-terminated line, without the terminator.
async fn read_line<R: AsyncBufRead + Unpin>(r: &mut R) -> Result<String, ConnError> {
    let mut line = Vec::new();
    let n = (&mut *r)
        .take(MAX_LINE as u64 + 2)
        .read_until(b'\n', &mut line)
        .await?;
    if n == 0 {
        return Err(ConnError::Io(io::ErrorKind::UnexpectedEof.into()));
    }
    if !line.ends_with(b"\r\n") {
        return Err(ConnError::Protocol("line too long or not terminated"));
    }
    line.truncate(line.len() - 2);
    String::from_utf8(line).map_err(|_| ConnError::Protocol("line is not UTF-8"))
}

fn parse_len(s: &str, max: usize) -> Result<Option<usize>, ConnError> {
    let n: i64 = s.parse().map_err(|_| ConnError::Protocol("bad length"))?;
    match n {
        -1 => Ok(None),
        n if n < 0 => Err(ConnError::Protocol("bad length")),
        n => {
            let n = usize::try_from(n).map_err(|_| ConnError::Protocol("length too large"))?;
            if n > max {
                return Err(ConnError::Protocol("reply too large"));
            }
            Ok(Some(n))
        }
    }
}

/// Reads one reply; arrays recurse up to [`MAX_DEPTH`].
fn read_reply<'a, R: AsyncBufRead + Unpin + Send>(
    r: &'a mut R,
    depth: usize,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Reply, ConnError>> + Send + 'a>> {
    Box::pin(async move {
        let line = read_line(r).await?;
        let (kind, rest) = line.split_at(line.len().min(1));
        match kind {
            "+" => Ok(Reply::Status(rest.to_string())),
            "-" => Ok(Reply::Error(rest.to_string())),
            ":" => rest
                .parse()
                .map(Reply::Int)
                .map_err(|_| ConnError::Protocol("bad integer")),
            "$" => match parse_len(rest, MAX_BULK)? {
                None => Ok(Reply::Bulk(None)),
                Some(n) => {
                    let mut buf = vec![0; n + 2];
                    r.read_exact(&mut buf).await?;
                    if !buf.ends_with(b"\r\n") {
                        return Err(ConnError::Protocol("bulk string not terminated"));
                    }
                    buf.truncate(n);
                    Ok(Reply::Bulk(Some(buf)))
                }
            },
            "*" => match parse_len(rest, MAX_ARRAY)? {
                None => Ok(Reply::Array(None)),
                Some(n) => {
                    if depth >= MAX_DEPTH {
                        return Err(ConnError::Protocol("reply nested too deeply"));
                    }
                    let mut items = Vec::with_capacity(n.min(64));
                    for _ in 0..n {
                        items.push(read_reply(r, depth + 1).await?);
                    }
                    Ok(Reply::Array(Some(items)))
                }
            },
            _ => Err(ConnError::Protocol("unknown reply type")),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn parse(bytes: &[u8]) -> Result<Reply, ConnError> {
        let mut r = BufReader::new(bytes);
        read_reply(&mut r, 0).await
    }

    #[test]
    fn encodes_bulk_strings() {
        assert_eq!(
            &encode(&[b"ACL", b"DELUSER", b"a b"])[..],
            b"*3\r\n$3\r\nACL\r\n$7\r\nDELUSER\r\n$3\r\na b\r\n"
        );
    }

    #[tokio::test]
    async fn parses_replies() {
        assert_eq!(parse(b"+OK\r\n").await.unwrap(), Reply::Status("OK".into()));
        assert_eq!(
            parse(b"-ERR no\r\n").await.unwrap(),
            Reply::Error("ERR no".into())
        );
        assert_eq!(parse(b":12\r\n").await.unwrap(), Reply::Int(12));
        assert_eq!(
            parse(b"$3\r\na\r\n\r\n").await.unwrap(),
            Reply::Bulk(Some(b"a\r\n".to_vec()))
        );
        assert_eq!(parse(b"$-1\r\n").await.unwrap(), Reply::Bulk(None));
        assert_eq!(
            parse(b"*2\r\n:1\r\n$1\r\nx\r\n").await.unwrap(),
            Reply::Array(Some(vec![Reply::Int(1), Reply::Bulk(Some(b"x".to_vec()))]))
        );
    }

    #[tokio::test]
    async fn refuses_malformed_and_oversized() {
        for bad in [
            &b"?x\r\n"[..],
            b"+OK\n",
            b"$99999999999\r\n",
            b"$-2\r\n",
            b"*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n",
            b"$3\r\nabcd\r\n",
            b"",
        ] {
            assert!(
                parse(bad).await.is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
