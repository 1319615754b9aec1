//! A tiny HTTP/1.1 file server on 127.0.0.1 with fault injection, standing in for Hugging
//! Face and PyPI in download tests. It honours `Range: bytes=N-` like they do.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

#[derive(Clone)]
pub struct Route {
    pub body: Vec<u8>,
    /// Close the connection after this many body bytes on the first request only.
    pub cut_first_at: Option<usize>,
    pub status: u16,
}

#[derive(Default)]
pub struct Log {
    /// (path, range header) per request.
    pub requests: Vec<(String, Option<String>)>,
}

pub struct Server {
    pub base: String,
    pub log: Arc<Mutex<Log>>,
}

pub fn serve(routes: HashMap<String, Route>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let log = Arc::new(Mutex::new(Log::default()));
    let thread_log = log.clone();
    std::thread::spawn(move || {
        let mut served: HashMap<String, usize> = HashMap::new();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
            let mut range = None;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    if k.eq_ignore_ascii_case("range") {
                        range = Some(v.trim().to_string());
                    }
                }
            }
            thread_log.lock().expect("log").requests.push((path.clone(), range.clone()));
            let count = served.entry(path.clone()).or_insert(0);
            *count += 1;
            let Some(route) = routes.get(&path) else {
                let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                continue;
            };
            if route.status != 200 {
                let _ =
                    write!(stream, "HTTP/1.1 {} Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", route.status);
                continue;
            }
            let start = range
                .as_deref()
                .and_then(|r| r.strip_prefix("bytes="))
                .and_then(|r| r.trim_end_matches('-').parse::<usize>().ok())
                .unwrap_or(0)
                .min(route.body.len());
            let body = &route.body[start..];
            let head = if start > 0 {
                format!(
                    "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {}-{}/{}\r\nConnection: close\r\n\r\n",
                    body.len(),
                    start,
                    route.body.len() - 1,
                    route.body.len()
                )
            } else {
                format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len())
            };
            let _ = stream.write_all(head.as_bytes());
            let cut = if *count == 1 { route.cut_first_at } else { None };
            let _ = match cut {
                Some(n) => stream.write_all(&body[..n.min(body.len())]),
                None => stream.write_all(body),
            };
            let _ = stream.flush();
        }
    });
    Server { base, log }
}
