//! HTTPS for the ТС ПИоТ's POS API (spec `tspiot.md` §2) on loopback: a generated certificate written
//! where a client can trust it, HTTPS requests by name and by IP, clients that break the handshake
//! (plain HTTP, an untrusting client, a silent one) without ending the accept loop, and the stop signal.

use axum::routing::get;
use axum::Router;
use markcert_emulators::tspiot::tls::{self, TlsMaterial};
use rustls::pki_types::ServerName;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;

const WAIT: Duration = Duration::from_secs(10);

struct Served {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<(), tls::TlsError>>,
}

async fn serve(material: TlsMaterial) -> Served {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route("/ping", get(|| async { "pong" }));
    let (stop, rx) = watch::channel(false);
    let task = tokio::spawn(async move { tls::serve_tls(listener, app, &material, rx).await });
    Served { addr, stop, task }
}

/// A scratch directory of this test process.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("markcert-tspiot-tls-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `GET /ping` over TLS with SNI / verification name `name`, trusting `ca_pem`; the raw HTTP answer.
async fn https_get(addr: SocketAddr, ca_pem: &str, name: &str) -> std::io::Result<String> {
    let connector = TlsConnector::from(Arc::new(tls::client_config(ca_pem).unwrap()));
    let server_name = ServerName::try_from(name.to_string()).unwrap();
    let tcp = TcpStream::connect(addr).await?;
    let mut stream = tokio::time::timeout(WAIT, connector.connect(server_name, tcp)).await??;
    stream
        .write_all(format!("GET /ping HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n").as_bytes())
        .await?;
    let mut answer = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut answer)).await??;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

fn assert_pong(answer: &str) {
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("pong"), "{answer}");
}

#[tokio::test]
async fn https_with_the_written_certificate_survives_broken_clients() {
    let material = tls::self_signed(&["tspiot.markcert.test".into()]).unwrap();
    let dir = scratch("ca");
    let ca_path = dir.join("tspiot-ca.pem");
    tls::write_ca_pem(&material, &ca_path).unwrap();
    let ca_pem = std::fs::read_to_string(&ca_path).unwrap();
    let served = serve(material).await;

    assert_pong(&https_get(served.addr, &ca_pem, "localhost").await.unwrap());

    // Plain HTTP to the TLS port: the request fails, the loop goes on.
    let plain = reqwest::Client::new().get(format!("http://{}/ping", served.addr)).timeout(WAIT).send().await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success(), "plain HTTP must not be served");

    // A client that does not trust the certificate aborts the handshake.
    let stranger = tls::self_signed(&[]).unwrap();
    assert!(https_get(served.addr, &stranger.cert_pem, "localhost").await.is_err());

    // A name the certificate does not carry.
    assert!(https_get(served.addr, &ca_pem, "elsewhere.test").await.is_err());

    // A client that connects and says nothing, left open while others are served.
    let silent = TcpStream::connect(served.addr).await.unwrap();

    // Still serving: by name, by IP, and by an extra name given at generation.
    assert_pong(&https_get(served.addr, &ca_pem, "localhost").await.unwrap());
    assert_pong(&https_get(served.addr, &ca_pem, "127.0.0.1").await.unwrap());
    assert_pong(&https_get(served.addr, &ca_pem, "tspiot.markcert.test").await.unwrap());
    drop(silent);

    served.stop.send(true).unwrap();
    let ended = tokio::time::timeout(WAIT, served.task).await.expect("the loop stops").unwrap();
    assert!(ended.is_ok());
    assert!(TcpStream::connect(served.addr).await.is_err(), "listener closed after stop");
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn unusable_material_fails_before_serving() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let material = TlsMaterial { cert_pem: "not a certificate".into(), key_pem: "nor a key".into() };
    let (_stop, rx) = watch::channel(false);
    let r = tokio::time::timeout(WAIT, tls::serve_tls(listener, Router::new(), &material, rx)).await.unwrap();
    assert!(r.is_err());
}

#[tokio::test]
async fn a_stop_already_given_ends_the_loop_at_once() {
    let material = tls::self_signed(&[]).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (_stop, rx) = watch::channel(true);
    let r = tokio::time::timeout(WAIT, tls::serve_tls(listener, Router::new(), &material, rx)).await;
    assert!(matches!(r, Ok(Ok(()))));
}
