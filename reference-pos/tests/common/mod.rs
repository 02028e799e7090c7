//! Test support: an in-process emulator stack and the reference POS's `serve` driven through a
//! `tokio::io::duplex` pair with JSON lines, as the harness would drive it over stdio.

#![allow(dead_code)]

use std::time::Duration;

use markcert_codes::Layout;
use markcert_emulators::clock::WorldClock;
use markcert_emulators::ffd::{Document, Receipt};
use markcert_emulators::kkt::device::DocumentQuery;
use markcert_emulators::stack::{Stack, StackOptions};
use markcert_emulators::trace::Trace;
use markcert_emulators::world::default::{default_world, STORE_INN};
use markcert_reference_pos::{serve, Options, PosError};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream, ReadHalf, WriteHalf};
use tokio::task::JoinHandle;

/// Product group of milk.
pub const MILK: u16 = 8;
/// Product group of beer.
pub const BEER: u16 = 15;

/// A fresh stack with the default world on the real clock, `X-API-KEY` accepted forever (the real
/// cut-off, 2026-10-01, may already be past on the machine running the tests).
pub async fn stack() -> Stack {
    stack_with_cutoff(i64::MAX).await
}

/// A fresh stack whose True API refuses `X-API-KEY` from `cutoff_ms` (world clock).
pub async fn stack_with_cutoff(cutoff_ms: i64) -> Stack {
    let clock = WorldClock::real();
    let world = default_world(clock.now_ms()).expect("default world");
    let opts = StackOptions { xapikey_cutoff_ms: cutoff_ms, ..StackOptions::default() };
    Stack::start(world, clock, Trace::in_memory(100_000), opts).await.expect("stack")
}

/// The reference POS behind a duplex pipe.
pub struct Pos {
    writer: WriteHalf<DuplexStream>,
    reader: BufReader<ReadHalf<DuplexStream>>,
    next_id: u64,
    task: Option<JoinHandle<Result<(), PosError>>>,
}

impl Pos {
    /// Start `serve` with the default options (quiet unless `POS_LOG` is set).
    pub fn start() -> Pos {
        let opts = Options { log: std::env::var_os("POS_LOG").is_some(), ..Options::default() };
        Pos::start_with(opts)
    }

    /// Start `serve` with `opts`.
    pub fn start_with(opts: Options) -> Pos {
        let (client, server) = tokio::io::duplex(1 << 20);
        let (server_read, server_write) = tokio::io::split(server);
        let task = tokio::spawn(serve(BufReader::new(server_read), server_write, opts));
        let (client_read, client_write) = tokio::io::split(client);
        Pos { writer: client_write, reader: BufReader::new(client_read), next_id: 1, task: Some(task) }
    }

    /// Send one raw line; read one reply line.
    pub async fn raw(&mut self, line: &[u8]) -> Value {
        self.writer.write_all(line).await.unwrap();
        self.writer.write_all(b"\n").await.unwrap();
        self.writer.flush().await.unwrap();
        let mut reply = String::new();
        let n = tokio::time::timeout(Duration::from_secs(10), self.reader.read_line(&mut reply))
            .await
            .expect("a reply within 10 s")
            .unwrap();
        assert!(n > 0, "the POS closed its output");
        assert!(reply.ends_with('\n'), "one reply per line: {reply:?}");
        serde_json::from_str(&reply).unwrap_or_else(|e| panic!("reply is not JSON ({e}): {reply:?}"))
    }

    /// Send `msg` with the next id; the reply (whose `in_reply_to` is checked, unless an error
    /// without it).
    pub async fn send(&mut self, mut msg: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        msg["id"] = json!(id);
        let reply = self.raw(msg.to_string().as_bytes()).await;
        if reply["type"] != "error" || reply.get("in_reply_to").is_some() {
            assert_eq!(reply["in_reply_to"], json!(id), "{reply}");
        }
        reply
    }

    /// `init` against `stack` in `mode`.
    pub async fn init(&mut self, stack: &Stack, mode: &str) -> Value {
        let endpoints = serde_json::to_value(&stack.endpoints).unwrap();
        let reply = self
            .send(json!({"type":"init","protocol_version":1,"role":"pos","lane":"lane-1",
                "endpoints":endpoints,"mode":mode,"store_inn":STORE_INN}))
            .await;
        assert_eq!(reply["type"], "init_ok", "{reply}");
        reply
    }

    /// `open_receipt`.
    pub async fn open(&mut self, kind: &str) {
        let reply = self.send(json!({"type":"open_receipt","lane":"lane-1","kind":kind})).await;
        assert_eq!(reply["type"], "receipt_opened", "{reply}");
    }

    /// `scan` of `bytes` sold as `product` (`name`, `price_kopecks`, `vat`, `measure`).
    pub async fn scan(&mut self, bytes: &[u8], product: &Value) -> Value {
        self.scan_with(bytes, product, 1.0, None).await
    }

    /// `scan` with a quantity and an optional fraction.
    pub async fn scan_with(
        &mut self,
        bytes: &[u8],
        product: &Value,
        quantity: f64,
        fraction: Option<(u64, u64)>,
    ) -> Value {
        use base64::Engine;
        let mut msg = json!({"type":"scan","lane":"lane-1",
            "scan_b64":base64::engine::general_purpose::STANDARD.encode(bytes),
            "product":product,"quantity":quantity});
        if let Some((n, m)) = fraction {
            msg["fraction"] = json!({"numerator":n,"denominator":m});
        }
        let reply = self.send(msg).await;
        assert_eq!(reply["type"], "item", "{reply}");
        reply
    }

    /// `close_receipt`; the fiscal document number.
    pub async fn close(&mut self, method: &str, amount_kopecks: u64) -> u64 {
        let reply = self
            .send(json!({"type":"close_receipt","lane":"lane-1",
                "payment":{"method":method,"amount_kopecks":amount_kopecks}}))
            .await;
        assert_eq!(reply["type"], "receipt_closed", "{reply}");
        reply["fiscal_document_number"].as_u64().unwrap()
    }

    /// `shutdown`, and `serve` returns `Ok`.
    pub async fn shutdown(mut self) {
        let reply = self.send(json!({"type":"shutdown"})).await;
        assert_eq!(reply["type"], "shutdown_ok");
        let result = self.task.take().unwrap().await.unwrap();
        assert!(result.is_ok(), "{result:?}");
    }
}

/// A code of the default world with the case label `case` in `group` (the `nth`, from 0), and the
/// product it is sold as (protocol JSON).
pub fn code(stack: &Stack, case: &str, group: u16, nth: usize) -> (String, Value) {
    code_of(stack, case, group, None, nth)
}

/// [`code`] restricted to one layout.
pub fn code_of(stack: &Stack, case: &str, group: u16, layout: Option<Layout>, nth: usize) -> (String, Value) {
    let w = stack.world.read().unwrap();
    w.codes()
        .into_iter()
        .filter(|c| c.case.as_deref() == Some(case))
        .filter_map(|c| {
            let parsed = markcert_codes::parse(c.code.as_bytes()).ok()?;
            if layout.is_some_and(|l| l != parsed.layout()) {
                return None;
            }
            let p = w.product(parsed.gtin()).filter(|p| p.group == group)?;
            Some((
                c.code.clone(),
                json!({"name":p.name,"price_kopecks":p.price_kopecks,"vat":p.vat,"measure":p.measure}),
            ))
        })
        .nth(nth)
        .unwrap_or_else(|| panic!("no code number {nth} with case {case} in group {group}"))
}

/// The bytes a scanner profile delivers for `code`.
pub fn distorted(code: &str, profile: &str) -> Vec<u8> {
    use rand_chacha::rand_core::SeedableRng;
    let p = markcert_codes::distort::profile(profile).expect("profile");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    markcert_codes::distort::apply(p, code.as_bytes(), &mut rng).text
}

/// The receipt with fiscal document number `fdn` the KKT holds.
pub fn receipt(stack: &Stack, fdn: u64) -> Receipt {
    let kkt = stack.kkt.as_ref().expect("a KKT");
    let q = DocumentQuery { kind: Some("receipt".into()), ..DocumentQuery::default() };
    kkt.documents(&q)
        .into_iter()
        .find_map(|d| match d.document {
            Document::Receipt(r) if u64::from(r.header.number) == fdn => Some(r),
            _ => None,
        })
        .unwrap_or_else(|| panic!("the KKT has no receipt {fdn}"))
}

/// The findings of the KKT's grader, as text (empty when clean).
pub fn findings(stack: &Stack) -> Vec<String> {
    stack
        .kkt
        .as_ref()
        .unwrap()
        .findings()
        .iter()
        .map(|(seq, f)| format!("{} (doc {seq}): {}", f.id, f.message))
        .collect()
}

/// The 1265 values of the receipt's positions (one per position; `None` without 1260), after
/// checking the fixed values of each 1260.
pub fn tag_1265(r: &Receipt) -> Vec<Option<String>> {
    r.items
        .iter()
        .map(|it| {
            assert!(it.industry.len() <= 1, "at most one 1260: {:?}", it.industry);
            it.industry.first().map(|i| {
                assert_eq!(i.foiv_id, "030");
                assert_eq!(i.doc_date, "21.11.2023");
                assert_eq!(i.doc_number, "1944");
                assert!(markcert_reference_pos::requisite::is_valid_1265(&i.value), "{}", i.value);
                i.value.clone()
            })
        })
        .collect()
}

/// Add a fault rule from its JSON form.
pub fn fault(stack: &Stack, rule: Value) {
    let rule = serde_json::from_value(rule).expect("fault rule");
    stack.faults.add(rule).expect("rule accepted");
}

/// Make the ЛМ ЧЗ synchronise now.
pub fn lm_sync(stack: &Stack) {
    let now = stack.clock.now_ms();
    let world = stack.world.read().unwrap();
    let mut lm = stack.lm.lock().unwrap();
    lm.sync_now(&world, now).expect("ЛМ ЧЗ sync");
}
