//! A real S3-compatible server on 127.0.0.1 for tests: [`S3Server`] starts `s3s-fs` over a
//! temporary folder and kills it when dropped.
//!
//! ```no_run
//! # #[tokio::main] async fn main() {
//! use hod_store::{Store, testing::S3Server};
//! let Some(server) = S3Server::start_or_skip("my_test") else { return };
//! let store = Store::open_with(&server.url("some/prefix"), &server.options()).unwrap();
//! store.put("k", "v".into()).await.unwrap();
//! # }
//! ```

// Test support: failing loudly is the point.
#![allow(clippy::panic, clippy::expect_used)]

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::S3Options;

/// The bucket every server starts with.
pub const BUCKET: &str = "hod-test";
const ACCESS_KEY: &str = "hodtestaccesskey";
const SECRET_KEY: &str = "hodtestsecretkey0123456789";

/// A running `s3s-fs` server; dropping it kills the process and removes its folder.
pub struct S3Server {
    bin: PathBuf,
    root: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

/// Finds the `s3s-fs` binary: `$HOD_S3S_FS`, then `PATH`, then `${HOD_TOOLS:-$HOME/.cache/hod-tools}/bin`
/// (where `.ci/install-s3.sh` puts it), then `/tmp/s3servers/bin`.
pub fn s3s_fs_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("HOD_S3S_FS") {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let path_dirs = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    let tools = std::env::var_os("HOD_TOOLS")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/hod-tools")));
    path_dirs
        .into_iter()
        .chain(tools.map(|t| t.join("bin")))
        .chain([PathBuf::from("/tmp/s3servers/bin")])
        .map(|d| d.join("s3s-fs"))
        .find(|p| p.is_file())
}

impl S3Server {
    /// Starts a server with an empty bucket [`BUCKET`]; `None` when `s3s-fs` is not installed.
    ///
    /// # Panics
    /// When the binary exists but the server does not come up.
    pub fn start() -> Option<S3Server> {
        let bin = s3s_fs_binary()?;
        let root = tempfile::tempdir().expect("temporary folder for the S3 server");
        std::fs::create_dir(root.path().join(BUCKET)).expect("bucket folder");
        let mut server = S3Server {
            bin,
            root,
            port: 0,
            child: None,
        };
        server.restart();
        Some(server)
    }

    /// [`S3Server::start`], or prints a SKIP line naming `test` and returns `None` when the
    /// binary is absent. With `HOD_REQUIRE_S3=1` an absent binary fails the test instead.
    pub fn start_or_skip(test: &str) -> Option<S3Server> {
        let server = S3Server::start();
        if server.is_none() {
            if std::env::var("HOD_REQUIRE_S3").is_ok_and(|v| v == "1") {
                panic!(
                    "{test}: HOD_REQUIRE_S3=1 but no s3s-fs binary (set HOD_S3S_FS or run .ci/install-s3.sh)"
                );
            }
            println!("SKIP {test}: no s3s-fs binary (set HOD_S3S_FS or run .ci/install-s3.sh)");
        }
        server
    }

    /// `s3://hod-test/<prefix>`.
    pub fn url(&self, prefix: &str) -> String {
        format!("s3://{BUCKET}/{}", prefix.trim_matches('/'))
    }

    /// The endpoint, `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Options for [`Store::open_with`](crate::Store::open_with): endpoint, test credentials, few retries.
    pub fn options(&self) -> S3Options {
        S3Options {
            endpoint: Some(self.endpoint()),
            access_key_id: Some(ACCESS_KEY.to_owned()),
            secret_access_key: Some(SECRET_KEY.to_owned()),
            region: Some("us-east-1".to_owned()),
            allow_http: true,
            max_retries: 2,
            retry_timeout: Duration::from_secs(5),
            ..S3Options::default()
        }
    }

    /// The `AWS_*` variables for a child process (e.g. the CLI under test).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_ALLOW_HTTP", "true".to_owned()),
        ]
    }

    /// The server's data folder (bucket `hod-test` is the folder `root/hod-test`).
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// Kills the server now (the folder stays).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// (Re)starts the server over the same folder, on the same port when it is still free.
    pub fn restart(&mut self) {
        self.kill();
        for attempt in 0..5 {
            let port = if self.port != 0 && attempt == 0 {
                self.port
            } else {
                free_port()
            };
            let mut child = Command::new(&self.bin)
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
                .arg(self.root.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.bin.display()));
            if wait_ready(&mut child, port) {
                self.port = port;
                self.child = Some(child);
                return;
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("{} did not start on 127.0.0.1", self.bin.display());
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("a free port on 127.0.0.1");
    listener.local_addr().expect("bound address").port()
}

/// Waits until the port accepts connections; false when the process exits or 10 s pass.
fn wait_ready(child: &mut Child, port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if !matches!(child.try_wait(), Ok(None)) {
            return false;
        }
        if TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}
