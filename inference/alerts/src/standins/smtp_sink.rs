//! Runs `tests/support/smtp_sink.py` (aiosmtpd) as a child process on a free port and reads the messages it
//! saved. The child is killed when the [`SmtpSink`] is dropped.

use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long the script may take to report its port.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running SMTP sink on `127.0.0.1`.
#[derive(Debug)]
pub struct SmtpSink {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl SmtpSink {
    /// Starts `python script --port 0 --dir <temp>` and waits for its `listening on 127.0.0.1:P` line.
    pub fn start(python: &Path, script: &Path) -> io::Result<SmtpSink> {
        Self::spawn(python, script, None)
    }

    /// Like [`SmtpSink::start`], but the server requires `AUTH` (PLAIN/LOGIN) with these credentials.
    pub fn start_with_auth(python: &Path, script: &Path, user: &str, password: &str) -> io::Result<SmtpSink> {
        Self::spawn(python, script, Some(format!("{user}:{password}")))
    }

    fn spawn(python: &Path, script: &Path, auth: Option<String>) -> io::Result<SmtpSink> {
        let dir = tempfile::Builder::new().prefix("prognos-smtp-sink-").tempdir()?;
        let mut command = Command::new(python);
        command.arg(script).args(["--port", "0", "--dir"]).arg(dir.path());
        if let Some(auth) = auth {
            command.args(["--auth", &auth]);
        }
        let mut child =
            command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().map_err(|e| {
                io::Error::new(e.kind(), format!("cannot run {} {}: {e}", python.display(), script.display()))
            })?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let (lines_tx, lines_rx) = mpsc::channel();
        // Reads the ready line, then keeps draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = lines_tx.send(line);
            }
        });
        match ready_port(&lines_rx) {
            Ok(port) => Ok(SmtpSink { child, port, dir }),
            Err(error) => {
                let _ = child.kill();
                let status = child.wait().ok();
                Err(io::Error::new(
                    error.kind(),
                    format!("smtp sink: {error} (exit status {status:?}; its stderr is above)"),
                ))
            }
        }
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The folder receiving one `.eml` file per message.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Every message received so far, oldest first, as raw RFC 5322 text.
    pub fn messages(&self) -> Vec<String> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|e| e == "eml"))
            .collect();
        files.sort();
        files
            .iter()
            .filter_map(|path| std::fs::read(path).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .collect()
    }

    /// Waits until at least `n` messages have arrived and returns them all; fails with `TimedOut` after
    /// `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> io::Result<Vec<String>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= n {
                return Ok(messages);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("{} of {n} messages arrived within {timeout:?}", messages.len()),
                ));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// Waits for `listening on HOST:PORT` among the script's first lines.
fn ready_port(lines: &mpsc::Receiver<String>) -> io::Result<u16> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let line = lines.recv_timeout(deadline.saturating_duration_since(Instant::now())).map_err(|e| match e {
            mpsc::RecvTimeoutError::Timeout => {
                io::Error::new(io::ErrorKind::TimedOut, format!("no `listening on` line within {READY_TIMEOUT:?}"))
            }
            mpsc::RecvTimeoutError::Disconnected => {
                io::Error::new(io::ErrorKind::UnexpectedEof, "exited before reporting its port")
            }
        })?;
        if let Some(address) = line.strip_prefix("listening on ") {
            let port = address.rsplit(':').next().unwrap_or_default().trim();
            return port
                .parse()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("printed {line:?}: {e}")));
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
