//! Target servers as child processes: spawn `<exe> serve-target KIND`, read the URL from the first
//! line of its stdout, check that it is a loopback `http` URL, read the child's resident memory, and
//! stop it by closing its stdin (killing it if it does not exit in time, and on drop).
//!
//! Each target runs in its own process so that its memory can be read alone from `/proc` and its
//! runtime does not share worker threads with the load generator.

use crate::load::error::LoadError;
use crate::load::procfs;
use crate::load::targets::{EmulatorOptions, TargetKind};
use hyper::header::HeaderValue;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};

/// How long a target may take to print its URL (the emulator builds its world first).
pub const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a target may take to exit after its stdin closed before it is killed.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// A checked target URL: `http`, loopback address, explicit port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetUrl {
    /// The URL as reported.
    pub full: String,
    /// Address to connect to.
    pub addr: SocketAddr,
    /// Path and query to request.
    pub path: String,
    /// `Host` header value (`ip:port`).
    pub host_header: HeaderValue,
}

impl TargetUrl {
    /// Parse and check `url`; anything not on loopback is refused.
    pub fn parse(url: &str) -> Result<TargetUrl, String> {
        let uri: hyper::Uri = url.parse().map_err(|e| format!("not a URL: {e}"))?;
        if uri.scheme_str() != Some("http") {
            return Err("only http:// URLs are served by the targets".into());
        }
        let host = uri.host().ok_or("no host")?;
        let ip: IpAddr = match host.trim_start_matches('[').trim_end_matches(']') {
            "localhost" => Ipv4Addr::LOCALHOST.into(),
            h => h.parse().map_err(|_| format!("host {host:?} is not an IP address"))?,
        };
        if !ip.is_loopback() {
            return Err(format!("{ip} is not a loopback address; the benchmark only loads loopback"));
        }
        let port = uri.port_u16().ok_or("no port")?;
        let addr = SocketAddr::new(ip, port);
        let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/").to_string();
        let host_header = HeaderValue::from_str(&addr.to_string()).map_err(|e| e.to_string())?;
        Ok(TargetUrl { full: url.to_string(), addr, path, host_header })
    }
}

/// A target server running as a child process.
pub struct TargetProcess {
    kind: TargetKind,
    child: Child,
    stdin: Option<ChildStdin>,
    pid: Option<u32>,
    url: TargetUrl,
}

impl TargetProcess {
    /// Start `exe serve-target KIND` and wait until it reports a loopback URL.
    pub async fn spawn(exe: &Path, kind: TargetKind, opts: &EmulatorOptions) -> Result<Self, LoadError> {
        let mut cmd = Command::new(exe);
        cmd.arg("serve-target").arg(kind.name());
        if matches!(kind, TargetKind::Emulator | TargetKind::Tspiot) {
            cmd.args(opts.to_args());
        }
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit()).kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|source| LoadError::Spawn {
            target: kind,
            exe: exe.to_path_buf(),
            source,
        })?;
        let pid = child.id();
        let stdin = child.stdin.take();
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| LoadError::NoUrl { target: kind, reason: "no stdout pipe".into() })?;
        let mut line = String::new();
        let mut reader = BufReader::new(stdout);
        let read = tokio::time::timeout(START_TIMEOUT, reader.read_line(&mut line)).await;
        let no_url = |reason: String| LoadError::NoUrl { target: kind, reason };
        match read {
            Err(_) => return Err(no_url(format!("nothing within {} s", START_TIMEOUT.as_secs()))),
            Ok(Err(e)) => return Err(no_url(e.to_string())),
            Ok(Ok(0)) => return Err(no_url("it exited (see its stderr above)".into())),
            Ok(Ok(_)) => {}
        }
        let reported = line.trim();
        let url = TargetUrl::parse(reported).map_err(|reason| LoadError::BadUrl {
            target: kind,
            url: reported.to_string(),
            reason,
        })?;
        Ok(TargetProcess { kind, child, stdin, pid, url })
    }

    /// Which target this is.
    pub fn kind(&self) -> TargetKind {
        self.kind
    }

    /// Its checked URL.
    pub fn url(&self) -> &TargetUrl {
        &self.url
    }

    /// Its process id.
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// Its resident memory now (`VmRSS`), in bytes.
    pub fn rss_bytes(&self) -> Option<u64> {
        self.pid.and_then(procfs::vm_rss_bytes)
    }

    /// CPU time it has used so far, µs.
    pub fn cpu_time_us(&self) -> Option<u64> {
        self.pid.and_then(procfs::cpu_time_us)
    }

    /// Close its stdin and wait for it to exit; kill it after [`STOP_TIMEOUT`]. Returns whether it
    /// exited by itself with success.
    pub async fn stop(mut self) -> bool {
        drop(self.stdin.take());
        match tokio::time::timeout(STOP_TIMEOUT, self.child.wait()).await {
            Ok(Ok(status)) => status.success(),
            _ => {
                let _ = self.child.kill().await;
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_urls_are_accepted() {
        let u = TargetUrl::parse("http://127.0.0.1:8080/api/v4/true-api/codes/check").unwrap();
        assert_eq!(u.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(u.path, "/api/v4/true-api/codes/check");
        assert_eq!(u.host_header, "127.0.0.1:8080");
        assert!(TargetUrl::parse("http://[::1]:80/").is_ok());
        assert_eq!(TargetUrl::parse("http://localhost:1/x").unwrap().addr.ip(), Ipv4Addr::LOCALHOST);
        assert!(TargetUrl::parse("http://127.3.4.5:9").is_ok());
    }

    #[test]
    fn other_urls_are_refused() {
        for url in [
            "http://10.0.0.1:80/",
            "http://192.168.1.2:8080/x",
            "http://8.8.8.8:80/",
            "http://example.com:80/",
            "https://127.0.0.1:443/",
            "http://127.0.0.1/",
            "not a url",
        ] {
            assert!(TargetUrl::parse(url).is_err(), "{url}");
        }
    }
}
