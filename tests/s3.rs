//! The real S3 server of the sync tests (Ceph's radosgw, single in-memory node, 127.0.0.1),
//! and a TCP proxy on loopback that the tests use to cut connections.
//!
//! `scripts/test.sh` starts the server and sets `CHAIRSIDE_TEST_S3_ENV` to its env file.
//! Without it, the first test starts one under `target/s3-test-auto` (left running for the
//! next run; `scripts/s3-server.sh stop target/s3-test-auto` stops it).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

/// Where the server listens and how to sign in.
#[derive(Debug, Clone)]
pub struct S3 {
    pub endpoint: String,
    pub access_key: String,
    pub secret: String,
    pub bucket: String,
    pub region: String,
    /// The same server over TLS (`https://localhost:…`), its certificate signed by `ca_cert`
    /// (made when the server started); `other_ca_cert` signed nothing.
    pub tls_endpoint: String,
    pub ca_cert: PathBuf,
    pub other_ca_cert: PathBuf,
    /// The server's folder (for `s3-server.sh stop-rgw|restart-rgw`).
    pub dir: PathBuf,
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read_env(path: &std::path::Path) -> Option<HashMap<String, String>> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect())
}

fn answers(endpoint: &str) -> bool {
    let addr = endpoint.trim_start_matches("http://");
    addr.parse::<SocketAddr>().is_ok_and(|a| TcpStream::connect_timeout(&a, Duration::from_secs(1)).is_ok())
}

/// The shared server, started on first use.
pub fn server() -> &'static S3 {
    static SERVER: OnceLock<S3> = OnceLock::new();
    SERVER.get_or_init(|| {
        let (env_file, dir) = match std::env::var("CHAIRSIDE_TEST_S3_ENV") {
            Ok(p) => {
                let p = PathBuf::from(p);
                let dir = p.parent().map(|d| d.to_path_buf()).unwrap_or_default();
                (p, dir)
            }
            Err(_) => {
                let dir = repo().join("target").join("s3-test-auto");
                let env_file = dir.join("env");
                // A server started before it had a TLS endpoint is started again.
                let running = read_env(&env_file)
                    .filter(|e| e.contains_key("S3_TLS_ENDPOINT"))
                    .and_then(|e| e.get("S3_ENDPOINT").cloned())
                    .is_some_and(|e| answers(&e));
                if !running {
                    let _ = std::fs::remove_dir_all(&dir);
                    let status = std::process::Command::new("bash")
                        .arg(repo().join("scripts/s3-server.sh"))
                        .args(["start", &dir.display().to_string(), "17480"])
                        .stdout(std::process::Stdio::null())
                        .status()
                        .expect("run scripts/s3-server.sh");
                    assert!(status.success(), "the S3 test server did not start: see {}", dir.display());
                }
                (env_file, dir)
            }
        };
        let env = read_env(&env_file).unwrap_or_else(|| panic!("no S3 server env file at {}", env_file.display()));
        let get = |k: &str| env.get(k).cloned().unwrap_or_else(|| panic!("{k} missing from {}", env_file.display()));
        S3 {
            endpoint: get("S3_ENDPOINT"),
            access_key: get("S3_ACCESS_KEY"),
            secret: get("S3_SECRET_KEY"),
            bucket: get("S3_BUCKET"),
            region: get("S3_REGION"),
            tls_endpoint: get("S3_TLS_ENDPOINT"),
            ca_cert: PathBuf::from(get("S3_CA_CERT")),
            other_ca_cert: PathBuf::from(get("S3_OTHER_CA_CERT")),
            dir,
        }
    })
}

static SERVER_USE: RwLock<()> = RwLock::new(());

/// Held by every test that uses the server; a test that stops the server takes
/// [`exclusive`] instead, so it never pulls the server from under another test.
pub fn shared() -> RwLockReadGuard<'static, ()> {
    SERVER_USE.read().unwrap_or_else(|p| p.into_inner())
}

pub fn exclusive() -> RwLockWriteGuard<'static, ()> {
    SERVER_USE.write().unwrap_or_else(|p| p.into_inner())
}

/// Stops or restarts radosgw (the cluster and its data stay).
pub fn rgw(action: &str) {
    let s = server();
    let status = std::process::Command::new("bash")
        .arg(repo().join("scripts/s3-server.sh"))
        .args([action, &s.dir.display().to_string()])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run scripts/s3-server.sh");
    assert!(status.success(), "s3-server.sh {action} failed");
}

/// What the proxy does with traffic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
    /// Forward everything.
    Pass,
    /// Forward this many more bytes from client to server, then cut every connection.
    CutAfter(i64),
    /// Accept and close at once (a server that went away).
    Refuse,
}

/// A TCP proxy on 127.0.0.1 in front of `upstream`, whose behaviour a test changes at will.
pub struct Proxy {
    pub addr: SocketAddr,
    mode: Arc<Mutex<Fault>>,
    budget: Arc<AtomicI64>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    pub fn start(upstream: &str) -> Proxy {
        let upstream: SocketAddr = upstream.trim_start_matches("http://").parse().expect("upstream address");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let mode = Arc::new(Mutex::new(Fault::Pass));
        let budget = Arc::new(AtomicI64::new(i64::MAX));
        let stop = Arc::new(AtomicBool::new(false));
        let (m, b, s) = (Arc::clone(&mode), Arc::clone(&budget), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let fault = *m.lock().unwrap_or_else(|p| p.into_inner());
                        if fault == Fault::Refuse {
                            let _ = client.shutdown(Shutdown::Both);
                            continue;
                        }
                        let _ = client.set_nonblocking(false);
                        let Ok(server) = TcpStream::connect_timeout(&upstream, Duration::from_secs(5)) else {
                            let _ = client.shutdown(Shutdown::Both);
                            continue;
                        };
                        for sock in [&client, &server] {
                            let _ = sock.set_read_timeout(Some(Duration::from_secs(60)));
                        }
                        let (c2, s2) = (client.try_clone().expect("clone"), server.try_clone().expect("clone"));
                        let budget = Arc::clone(&b);
                        std::thread::spawn(move || pump(client, server, Some(budget)));
                        std::thread::spawn(move || pump(s2, c2, None));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Proxy { addr, mode, budget, stop }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set(&self, fault: Fault) {
        *self.mode.lock().unwrap_or_else(|p| p.into_inner()) = fault;
        self.budget.store(if let Fault::CutAfter(n) = fault { n } else { i64::MAX }, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Copies `from` to `to`; with a budget, cuts both when it runs out.
fn pump(mut from: TcpStream, mut to: TcpStream, budget: Option<Arc<AtomicI64>>) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut send = n;
        if let Some(b) = &budget {
            let left = b.fetch_sub(n as i64, Ordering::SeqCst);
            if left <= 0 {
                break;
            }
            send = send.min(left as usize);
        }
        if to.write_all(&buf[..send]).is_err() || send < n {
            break;
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}
