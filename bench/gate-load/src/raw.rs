//! A minimal HTTP/1.1 client for the load runs: keep-alive connections to
//! one address, each request written from bytes built once, each answer
//! read by its `Content-Length`.
//!
//! The generator shares the 2 cores with the gate, so every microsecond it
//! spends per request is taken from the gate. reqwest (hyper, a pool, a
//! header map, a JSON parse of every 3 KB answer) cost about 100 µs per
//! request here, half a core at 5,000/s; this client is a write, a read and
//! a few substring searches.

use std::net::SocketAddr;
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Keep-alive connections to one server, shared by every task.
pub struct Raw {
    addr: SocketAddr,
    host: String,
    path: String,
    idle: Mutex<Vec<TcpStream>>,
}

impl Raw {
    /// A client for `url` (`http://HOST:PORT/...`).
    pub fn new(url: &str) -> Result<Raw> {
        let rest = url
            .strip_prefix("http://")
            .context("the raw client speaks plain http:// only")?;
        let (host, path) = match rest.find('/') {
            Some(i) => (rest[..i].to_owned(), rest[i..].to_owned()),
            None => (rest.to_owned(), "/".to_owned()),
        };
        let addr = host
            .parse()
            .with_context(|| format!("`{host}` is not an IP address and port"))?;
        Ok(Raw {
            addr,
            host,
            path,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// The bytes of a `POST` to the client's URL with a JSON body and a
    /// bearer key.
    pub fn post_bytes(&self, key: &str, body: &[u8]) -> Vec<u8> {
        let mut out = format!(
            "POST {} HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {key}\r\n\
             content-type: application/json\r\ncontent-length: {}\r\n\r\n",
            self.path,
            self.host,
            body.len()
        )
        .into_bytes();
        out.extend_from_slice(body);
        out
    }

    /// Sends `request` (from [`Raw::post_bytes`]) on an idle connection, or
    /// a new one, and returns the status and the body.
    pub async fn send(&self, request: &[u8]) -> Result<(u16, Vec<u8>)> {
        let idle = self.idle.lock().ok().and_then(|mut i| i.pop());
        let mut conn = match idle {
            Some(c) => c,
            None => {
                let c = TcpStream::connect(self.addr).await?;
                c.set_nodelay(true)?;
                c
            }
        };
        conn.write_all(request).await?;
        let (status, body, keep) = read_answer(&mut conn).await?;
        if keep {
            if let Ok(mut i) = self.idle.lock() {
                i.push(conn);
            }
        }
        Ok((status, body))
    }
}

/// Reads one answer: status, body, and whether the connection stays open.
async fn read_answer(conn: &mut TcpStream) -> Result<(u16, Vec<u8>, bool)> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i;
        }
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            bail!("the server closed the connection before answering");
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..head_end]).context("a header that is not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .context("no status line")?;
    let mut length = None;
    let mut keep = true;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse::<usize>().ok();
        } else if name.eq_ignore_ascii_case("connection") && value.eq_ignore_ascii_case("close") {
            keep = false;
        }
    }
    let length = length.context("an answer without content-length")?;
    let mut body = buf.split_off(head_end + 4);
    while body.len() < length {
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            bail!("the server closed the connection mid-answer");
        }
        body.extend_from_slice(&chunk[..n]);
    }
    if body.len() > length {
        bail!("more bytes than the answer's content-length (no pipelining here)");
    }
    Ok((status, body, keep))
}

/// The first position of `needle` in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The string value of the first `"name":"..."` in compact JSON, without
/// unescaping (the values read here hold no quotes).
pub fn string_field<'a>(json: &'a [u8], name: &str) -> Option<&'a [u8]> {
    let key = format!("\"{name}\":\"");
    let start = find(json, key.as_bytes())? + key.len();
    let len = json[start..].iter().position(|&b| b == b'"')?;
    Some(&json[start..start + len])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_found_in_compact_json() {
        let j = br#"{"decision_id":"dec_1","outcome":"allow","receipt":"a\nb"}"#;
        assert_eq!(string_field(j, "outcome"), Some(&b"allow"[..]));
        assert_eq!(string_field(j, "receipt"), Some(&br"a\nb"[..]));
        assert_eq!(string_field(j, "missing"), None);
    }
}
