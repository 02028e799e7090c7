//! HTTPS for the ТС ПИоТ's POS API (spec `tspiot.md` §2: the real POS API is HTTPS with a self-signed
//! certificate): generating that certificate, writing it where a system under test can pin or trust
//! it, and the TLS accept loop that serves an axum [`Router`] over it.
//!
//! Owns the certificate and the TLS layer only; what is served comes from `server.rs`. The crypto is
//! rustls with the `ring` provider, passed explicitly (no process-wide default is installed). A failed
//! or slow handshake ends that connection, never the loop; the loop ends when `stop` turns true (or its
//! sender is gone), and open connections are then shut down gracefully.

use axum::body::Body;
use axum::Router;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

/// A certificate and its private key, PEM. The certificate is self-signed, so it is also the CA a
/// client trusts.
#[derive(Clone, PartialEq, Eq)]
pub struct TlsMaterial {
    /// The certificate, PEM (`-----BEGIN CERTIFICATE-----`).
    pub cert_pem: String,
    /// Its private key, PEM (PKCS#8).
    pub key_pem: String,
}

impl fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsMaterial")
            .field("cert_pem", &format_args!("{} bytes", self.cert_pem.len()))
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// Errors of the TLS layer.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// rcgen could not generate the key or the certificate.
    #[error("generating the certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// The certificate PEM does not parse.
    #[error("certificate PEM: {0}")]
    CertPem(String),
    /// The certificate PEM holds no certificate.
    #[error("certificate PEM: no certificate")]
    NoCertificate,
    /// The key PEM does not parse or holds no key.
    #[error("private key PEM: {0}")]
    KeyPem(String),
    /// rustls refused the configuration (e.g. the key does not match the certificate).
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
    /// The certificate file could not be written.
    #[error("writing {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Common name of the generated certificate.
pub const CERT_COMMON_NAME: &str = "markcert ТС ПИоТ test certificate";

/// How long a client may take to complete the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long open connections get to finish after the stop signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A fresh self-signed certificate (ECDSA P-256) for `localhost`, `127.0.0.1` and `names` (IP
/// addresses become IP SANs, anything else DNS SANs; blanks and duplicates are skipped), valid from
/// 2000-01-01 to 2099-12-31 so that a world clock far from today does not expire it.
pub fn self_signed(names: &[String]) -> Result<TlsMaterial, TlsError> {
    let mut sans: Vec<String> = vec!["localhost".into(), "127.0.0.1".into()];
    for n in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        if !sans.iter().any(|s| s == n) {
            sans.push(n.to_string());
        }
    }
    let mut params = rcgen::CertificateParams::new(sans)?;
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, CERT_COMMON_NAME);
    dn.push(rcgen::DnType::OrganizationName, "markcert");
    params.distinguished_name = dn;
    params.not_before = rcgen::date_time_ymd(2000, 1, 1);
    params.not_after = rcgen::date_time_ymd(2099, 12, 31);
    let key = rcgen::KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    Ok(TlsMaterial { cert_pem: cert.pem(), key_pem: key.serialize_pem() })
}

/// Write the certificate (the CA a client must trust) to `path` atomically: a temporary file in the
/// same directory, then a rename.
pub fn write_ca_pem(material: &TlsMaterial, path: &Path) -> Result<(), TlsError> {
    use std::io::Write;
    let err = |source| TlsError::Write { path: path.to_path_buf(), source };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "ca.pem".into());
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(material.cert_pem.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        err(e)
    })
}

fn certificates(pem: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::CertPem(e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate);
    }
    Ok(certs)
}

fn ring() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The rustls server configuration for `material` (HTTP/1.1 over TLS 1.2 or 1.3).
pub fn server_config(material: &TlsMaterial) -> Result<rustls::ServerConfig, TlsError> {
    let certs = certificates(&material.cert_pem)?;
    let key = PrivateKeyDer::from_pem_slice(material.key_pem.as_bytes())
        .map_err(|e| TlsError::KeyPem(e.to_string()))?;
    let mut config = rustls::ServerConfig::builder_with_provider(ring())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// A rustls client configuration that trusts exactly the certificates of `ca_pem` (for tests and for
/// markcert's own POS client talking to an emulated ТС ПИоТ).
pub fn client_config(ca_pem: &str) -> Result<rustls::ClientConfig, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in certificates(ca_pem)? {
        roots.add(cert)?;
    }
    Ok(rustls::ClientConfig::builder_with_provider(ring())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// Serve `app` over HTTPS on `listener` until `stop` turns true (or its sender is dropped). Fails only
/// when `material` is unusable; a failed handshake, a plain-HTTP client or an accept error ends that
/// connection only.
pub async fn serve_tls(
    listener: TcpListener,
    app: Router,
    material: &TlsMaterial,
    mut stop: watch::Receiver<bool>,
) -> Result<(), TlsError> {
    let acceptor = TlsAcceptor::from(Arc::new(server_config(material)?));
    loop {
        let accepted = tokio::select! {
            _ = stopped(&mut stop) => break,
            a = listener.accept() => a,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(_) => {
                // Out of descriptors or an aborted connection: do not spin.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve_connection(stream, acceptor.clone(), app.clone(), stop.clone()));
    }
    Ok(())
}

/// Resolves when `stop` turns true or its sender is gone (the guard of `wait_for` is not `Send`, so it
/// is dropped here).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Handshake, then serve HTTP/1.1 on one connection until it closes or the loop stops.
async fn serve_connection(
    stream: tokio::net::TcpStream,
    acceptor: TlsAcceptor,
    app: Router,
    mut stop: watch::Receiver<bool>,
) {
    use tower::ServiceExt;
    let tls = tokio::select! {
        _ = stopped(&mut stop) => return,
        hs = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)) => match hs {
            Ok(Ok(tls)) => tls,
            _ => return,
        },
    };
    let svc = hyper::service::service_fn(move |req: axum::http::Request<hyper::body::Incoming>| {
        app.clone().oneshot(req.map(Body::new))
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .serve_connection(hyper_util::rt::TokioIo::new(tls), svc);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = stopped(&mut stop) => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, conn).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_material_configures_a_server_and_a_client() {
        let m = self_signed(&["tspiot.test".into(), "localhost".into(), " ".into()]).unwrap();
        assert!(m.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(m.key_pem.contains("PRIVATE KEY"));
        server_config(&m).unwrap();
        client_config(&m.cert_pem).unwrap();
        assert!(!format!("{m:?}").contains("PRIVATE"), "Debug never shows the key");
    }

    #[test]
    fn unusable_material_is_an_error() {
        let m = self_signed(&[]).unwrap();
        let other = self_signed(&[]).unwrap();
        let no_cert = TlsMaterial { cert_pem: String::new(), key_pem: m.key_pem.clone() };
        assert!(matches!(server_config(&no_cert), Err(TlsError::NoCertificate)));
        let no_key = TlsMaterial { cert_pem: m.cert_pem.clone(), key_pem: "junk".into() };
        assert!(matches!(server_config(&no_key), Err(TlsError::KeyPem(_))));
        let mismatched = TlsMaterial { cert_pem: m.cert_pem.clone(), key_pem: other.key_pem };
        assert!(matches!(server_config(&mismatched), Err(TlsError::Config(_))));
    }

    #[test]
    fn the_ca_file_is_written_atomically() {
        let dir = std::env::temp_dir().join(format!("markcert-tls-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tspiot-ca.pem");
        let m = self_signed(&[]).unwrap();
        write_ca_pem(&m, &path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), m.cert_pem);
        let leftovers = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file left");
        let missing = dir.join("no-such-dir").join("ca.pem");
        assert!(matches!(write_ca_pem(&m, &missing), Err(TlsError::Write { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
