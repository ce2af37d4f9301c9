//! Virus scanning of what is about to be stored, by a ClamAV daemon (`clamd`).
//!
//! The client speaks clamd's `INSTREAM` protocol by hand: a command, the bytes in length-
//! prefixed chunks, one reply line. It is a page of code, the protocol has been stable for
//! fifteen years, and the bytes sent are exactly the bytes about to be stored (clamd never opens
//! our files, so it needs no read access to the library and there is no window in which the
//! file could change between the scan and the import). Every read and write has a timeout and
//! the reply is bounded, so a stuck or hostile daemon cannot stall an import forever.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// What the scanner said of some bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Clean,
    /// The signature's name as the scanner reports it (`Eicar-Signature`, `Win.Trojan…`).
    Infected {
        signature: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The daemon could not be reached or did not answer in time.
    #[error("the virus scanner at {address} does not answer: {reason}")]
    Unavailable { address: String, reason: String },
    /// The daemon answered with an error (a size limit, a broken database…).
    #[error("the virus scanner at {address} could not scan the file: {reason}")]
    Failed { address: String, reason: String },
}

impl ScanError {
    /// A stable code, as in the rest of Chairside's errors.
    pub fn code(&self) -> &'static str {
        match self {
            ScanError::Unavailable { .. } => "scanner_unavailable",
            ScanError::Failed { .. } => "scan_failed",
        }
    }
}

/// Something that scans bytes before they are stored. Implemented by [`Clamd`]; media's import
/// takes any, so it knows nothing of sockets.
pub trait Scanner: Send + Sync + std::fmt::Debug {
    /// Scans everything `data` yields, streamed: a 4 GB video is never held whole.
    fn scan_stream(&self, data: &mut dyn Read) -> Result<Verdict, ScanError>;

    fn scan(&self, bytes: &[u8]) -> Result<Verdict, ScanError> {
        self.scan_stream(&mut &bytes[..])
    }
}

/// Where clamd listens: its local socket (`LocalSocket` in `clamd.conf`; Debian's
/// `clamav-daemon` uses `/var/run/clamav/clamd.ctl`), or `tcp://HOST:PORT` (`TCPSocket`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    Unix(std::path::PathBuf),
    Tcp(String),
}

impl Address {
    /// `tcp://host:port` or an absolute socket path; anything else is refused with a message
    /// that says which two forms are understood.
    pub fn parse(text: &str) -> Result<Address, String> {
        let text = text.trim();
        if let Some(hostport) = text.strip_prefix("tcp://") {
            if hostport.rsplit_once(':').is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok()) {
                return Ok(Address::Tcp(hostport.to_string()));
            }
            return Err(format!("{text}: give clamd's TCP address as tcp://HOST:PORT"));
        }
        let path = std::path::Path::new(text);
        if path.is_absolute() {
            return Ok(Address::Unix(path.to_path_buf()));
        }
        Err(format!(
            "{text}: give clamd's local socket as an absolute path (Debian: /var/run/clamav/clamd.ctl) or its TCP address as tcp://HOST:PORT"
        ))
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Address::Unix(p) => write!(f, "{}", p.display()),
            Address::Tcp(hp) => write!(f, "tcp://{hp}"),
        }
    }
}

/// A ClamAV daemon. Cheap to make: it holds only the address; each call is one connection.
#[derive(Debug, Clone)]
pub struct Clamd {
    address: Address,
    /// Bounds the connection and each read and write. clamd's own `MaxScanTime` defaults to
    /// two minutes; this waits a little longer so clamd's answer, not ours, says why.
    timeout: Duration,
}

/// clamd's replies are one short line; anything longer is not clamd.
const MAX_REPLY: usize = 4096;
const CHUNK: usize = 64 * 1024;

trait Stream: Read + Write {}
impl<T: Read + Write> Stream for T {}

impl Clamd {
    pub fn new(address: Address) -> Clamd {
        Clamd { address, timeout: Duration::from_secs(130) }
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Clamd {
        self.timeout = timeout;
        self
    }

    pub fn address(&self) -> &Address {
        &self.address
    }

    fn unavailable(&self, e: impl std::fmt::Display) -> ScanError {
        ScanError::Unavailable { address: self.address.to_string(), reason: e.to_string() }
    }

    fn connect(&self) -> Result<Box<dyn Stream>, ScanError> {
        let t = Some(self.timeout);
        match &self.address {
            #[cfg(unix)]
            Address::Unix(path) => {
                let s = std::os::unix::net::UnixStream::connect(path).map_err(|e| self.unavailable(e))?;
                s.set_read_timeout(t).and_then(|()| s.set_write_timeout(t)).map_err(|e| self.unavailable(e))?;
                Ok(Box::new(s))
            }
            #[cfg(not(unix))]
            Address::Unix(_) => Err(self.unavailable("local sockets are not available here: use tcp://HOST:PORT")),
            Address::Tcp(hostport) => {
                let addr = hostport
                    .to_socket_addrs()
                    .map_err(|e| self.unavailable(e))?
                    .next()
                    .ok_or_else(|| self.unavailable("the host name has no address"))?;
                let s = TcpStream::connect_timeout(&addr, self.timeout.min(Duration::from_secs(5)))
                    .map_err(|e| self.unavailable(e))?;
                s.set_read_timeout(t).and_then(|()| s.set_write_timeout(t)).map_err(|e| self.unavailable(e))?;
                Ok(Box::new(s))
            }
        }
    }

    /// One `z`-command (NUL-terminated, so replies are too) and its reply.
    fn command(&self, name: &str) -> Result<String, ScanError> {
        let mut s = self.connect()?;
        s.write_all(format!("z{name}\0").as_bytes()).map_err(|e| self.unavailable(e))?;
        read_reply(&mut s).map_err(|e| self.unavailable(e))
    }

    /// The daemon's version line (`ClamAV 1.4.6/27000/…`): proof that it answers.
    pub fn version(&self) -> Result<String, ScanError> {
        let v = self.command("VERSION")?;
        if v.starts_with("ClamAV") {
            Ok(v)
        } else {
            Err(self.unavailable(format!("it answered {v:?}, which is not clamd")))
        }
    }
}

fn read_reply(s: &mut dyn Stream) -> io::Result<String> {
    let mut reply = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        let n = match s.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            break;
        }
        reply.extend_from_slice(&buf[..n]);
        if let Some(end) = reply.iter().position(|&b| b == 0) {
            reply.truncate(end);
            break;
        }
        if reply.len() > MAX_REPLY {
            return Err(io::Error::other("the reply is too long to be clamd's"));
        }
    }
    if reply.is_empty() {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "it closed the connection without a reply"));
    }
    Ok(String::from_utf8_lossy(&reply).trim().to_string())
}

impl Scanner for Clamd {
    fn scan_stream(&self, data: &mut dyn Read) -> Result<Verdict, ScanError> {
        let mut s = self.connect()?;
        let mut total = 0u64;
        let mut unread = None;
        let sent = (|| -> io::Result<()> {
            s.write_all(b"zINSTREAM\0")?;
            let mut chunk = vec![0u8; CHUNK];
            loop {
                let n = match data.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        unread = Some(e);
                        break;
                    }
                };
                total += n as u64;
                s.write_all(&(n as u32).to_be_bytes())?;
                s.write_all(&chunk[..n])?;
            }
            s.write_all(&0u32.to_be_bytes())?;
            s.flush()
        })();
        if let Some(e) = unread {
            return Err(ScanError::Failed {
                address: self.address.to_string(),
                reason: format!("the file could not be read to scan it: {e}"),
            });
        }
        // clamd stops reading and answers (then closes) when a stream passes its
        // StreamMaxLength: the reply, not the broken pipe, says why.
        let reply = read_reply(&mut s);
        let reply = match (sent, reply) {
            (_, Ok(reply)) => reply,
            (Err(e), Err(_)) | (Ok(()), Err(e)) => return Err(self.unavailable(e)),
        };
        parse_scan_reply(&reply).map_err(|reason| ScanError::Failed {
            address: self.address.to_string(),
            reason: if reason.contains("size limit") {
                format!(
                    "{reason} (clamd's StreamMaxLength is smaller than this file, {total} bytes or more: raise it in clamd.conf)"
                )
            } else {
                reason
            },
        })
    }
}

/// `stream: OK`, `stream: NAME FOUND`, or `… ERROR`.
fn parse_scan_reply(reply: &str) -> Result<Verdict, String> {
    let body = reply.strip_prefix("stream:").map(str::trim).unwrap_or(reply);
    if body == "OK" {
        return Ok(Verdict::Clean);
    }
    if let Some(name) = body.strip_suffix(" FOUND") {
        let name = name.trim();
        if !name.is_empty() {
            return Ok(Verdict::Infected { signature: name.chars().take(200).collect() });
        }
    }
    Err(body.strip_suffix(" ERROR").unwrap_or(body).trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_read_as_clamd_writes_them() {
        assert_eq!(parse_scan_reply("stream: OK"), Ok(Verdict::Clean));
        assert_eq!(
            parse_scan_reply("stream: Eicar-Signature FOUND"),
            Ok(Verdict::Infected { signature: "Eicar-Signature".into() })
        );
        assert_eq!(
            parse_scan_reply("INSTREAM size limit exceeded. ERROR"),
            Err("INSTREAM size limit exceeded.".into())
        );
        assert!(parse_scan_reply("stream:  FOUND").is_err());
        assert!(parse_scan_reply("HTTP/1.1 400 Bad Request").is_err());
    }

    #[test]
    fn addresses_are_a_socket_path_or_tcp() {
        assert_eq!(Address::parse("/run/clamav/clamd.ctl"), Ok(Address::Unix("/run/clamav/clamd.ctl".into())));
        assert_eq!(Address::parse("tcp://127.0.0.1:3310"), Ok(Address::Tcp("127.0.0.1:3310".into())));
        assert!(Address::parse("clamd.ctl").is_err());
        assert!(Address::parse("tcp://127.0.0.1").is_err());
        assert_eq!(Address::parse("tcp://localhost:3310").map(|a| a.to_string()), Ok("tcp://localhost:3310".into()));
    }

    /// A peer that accepts and never answers is cut off by the timeout, not waited on forever.
    #[test]
    fn a_silent_peer_is_unavailable_after_the_timeout() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let held = std::thread::spawn(move || {
            let (conn, _) = listener.accept().expect("accept");
            std::thread::sleep(Duration::from_millis(1500));
            drop(conn);
        });
        let clamd = Clamd::new(Address::Tcp(format!("127.0.0.1:{port}"))).with_timeout(Duration::from_millis(300));
        let started = std::time::Instant::now();
        let err = clamd.version().expect_err("no answer");
        assert_eq!(err.code(), "scanner_unavailable", "{err}");
        assert!(started.elapsed() < Duration::from_millis(1400), "{:?}", started.elapsed());
        held.join().expect("peer");
    }

    /// A peer that floods instead of answering is cut off at the reply bound.
    #[test]
    fn an_endless_reply_is_refused() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let peer = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().expect("accept");
            let junk = [b'A'; 1024];
            for _ in 0..64 {
                if conn.write_all(&junk).is_err() {
                    break;
                }
            }
        });
        let clamd = Clamd::new(Address::Tcp(format!("127.0.0.1:{port}"))).with_timeout(Duration::from_secs(5));
        let err = clamd.version().expect_err("flood");
        assert!(err.to_string().contains("too long"), "{err}");
        peer.join().expect("peer");
    }
}

#[cfg(any(test, feature = "testing"))]
pub mod testing;
