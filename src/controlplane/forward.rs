//! What `kubectl port-forward` into a fake pod reaches: kwok forwards every port of every
//! container to one loopback address, where the control plane answers plain HTTP.
//!
//! This module owns that small backend: a thread answering each connection with a
//! `200 OK` that names the path asked for, so a user (and a test) can see a request go
//! through a forwarded port. It serves nothing else and reads nothing but the request line.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The body's first words: what a forwarded request gets back.
pub const GREETING: &str = "port-forward reached the kubectl-sui local control plane";

/// The backend's thread; stopped when dropped.
#[derive(Debug)]
pub struct ForwardBackend {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl ForwardBackend {
    /// Listens on a free loopback port and answers until dropped. It takes its port on
    /// 127.0.0.2 where the system has that address (Linux routes all of 127/8 to loopback):
    /// the control plane's components take ports on 127.0.0.1 chosen a moment before they
    /// bind them, and a port held here could be one of those.
    pub fn start() -> std::io::Result<ForwardBackend> {
        let listener = TcpListener::bind("127.0.0.2:0").or_else(|_| TcpListener::bind("127.0.0.1:0"))?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::Builder::new().name("port-forward backend".into()).spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    return;
                }
                if let Ok(stream) = stream {
                    std::thread::spawn(move || answer(stream));
                }
            }
        })?;
        Ok(ForwardBackend { addr, stop })
    }

    /// Where kwok forwards to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for ForwardBackend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

/// Reads the request head and answers `200 OK` naming its request line.
fn answer(stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(10)));
    let mut reader = BufReader::new(&stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut header = String::new();
    while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
        header.clear();
    }
    let body = format!("{GREETING}: {}\n", request_line.trim());
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = (&stream).write_all(response.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn answers_each_request_with_its_request_line() {
        let backend = ForwardBackend::start().unwrap();
        let mut stream = TcpStream::connect(backend.addr()).unwrap();
        stream.write_all(b"GET /through/the/chain HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).unwrap();
        assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
        assert!(reply.ends_with(&format!("{GREETING}: GET /through/the/chain HTTP/1.1\n")), "{reply}");
    }
}
