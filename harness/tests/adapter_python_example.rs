//! The Python example POS (`fixtures/adapters/minimal_pos.py`) plugged into markcert through the stdio
//! transport, against a real in-process emulator stack: it checks every scan through the ТС ПИоТ and
//! decides like the spec, which proves a foreign implementation plugs in with the protocol alone.

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use markcert::adapter::protocol::{
    CancelReceipt, CloseReceipt, Decision, Endpoints, Init, Item, Mode, OpenReceipt, Payment, PaymentMethod,
    Product, Reason, ReceiptKind, Reply, ReplyBody, Request, Role, Scan, Shutdown, PROTOCOL_VERSION,
};
use markcert::adapter::{AdapterClient, StdioAdapter, StdioOptions};
use markcert_emulators::clock::WorldClock;
use markcert_emulators::stack::{Stack, StackOptions};
use markcert_emulators::trace::Trace;
use markcert_emulators::world::default::{default_world, STORE_INN};

const LANE: &str = "lane-1";
/// Product group of milk.
const MILK: u16 = 8;

fn python3_available() -> bool {
    std::process::Command::new("python3")
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn example_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/adapters/minimal_pos.py")
}

/// A milk code of the default world with the case label `case`, and the product it is sold as.
fn milk_code(stack: &Stack, case: &str) -> (String, Product) {
    let w = stack.world.read().unwrap();
    w.codes()
        .into_iter()
        .filter(|c| c.case.as_deref() == Some(case))
        .find_map(|c| {
            let parsed = markcert_codes::parse(c.code.as_bytes()).ok()?;
            let p = w.product(parsed.gtin()).filter(|p| p.group == MILK)?;
            let product = Product {
                name: p.name.clone(),
                price_kopecks: p.price_kopecks,
                vat: p.vat.clone(),
                measure: p.measure.clone(),
            };
            Some((c.code.clone(), product))
        })
        .unwrap_or_else(|| panic!("no milk code with case {case} in the default world"))
}

async fn ask(sut: &mut StdioAdapter, body: Request) -> Reply {
    match sut.request(body).await {
        Ok(r) => r,
        Err(v) => panic!("protocol violation: {v}"),
    }
}

async fn scan(sut: &mut StdioAdapter, code: &str, product: Product) -> Item {
    let scan_b64 = base64::engine::general_purpose::STANDARD.encode(code.as_bytes());
    let req = Request::Scan(Scan { lane: LANE.into(), scan_b64, product, quantity: 1.0, fraction: None });
    match ask(sut, req).await.body {
        ReplyBody::Item(item) => item,
        other => panic!("expected item for {code:?}, got {other:?}; stderr: {:?}", sut.stderr_tail()),
    }
}

#[tokio::test]
async fn python_example_checks_codes_through_the_tspiot_and_decides() {
    if !python3_available() {
        eprintln!("skipping: python3 is not on PATH");
        return;
    }
    // Real clock: the example compares expireDate with its own clock, as a POS does.
    let clock = WorldClock::real();
    let world = default_world(clock.now_ms()).unwrap();
    let stack = Stack::start(world, clock, Trace::in_memory(100_000), StackOptions::default()).await.unwrap();
    assert!(stack.endpoints.tspiot.is_some(), "the default stack has a ТС ПИоТ");

    let script = example_path().display().to_string();
    let mut sut = StdioAdapter::spawn("python3", &[script], StdioOptions::default()).await.unwrap();

    let init = Request::Init(Init {
        protocol_version: PROTOCOL_VERSION,
        role: Role::Pos,
        lane: LANE.into(),
        endpoints: Endpoints::from(&stack.endpoints),
        mode: Mode::Tspiot,
        store_inn: STORE_INN.into(),
    });
    match ask(&mut sut, init).await.body {
        ReplyBody::InitOk(ok) => {
            assert_eq!(ok.name, "markcert-minimal-pos");
            assert_eq!(ok.features, vec!["tspiot".to_string()]);
        }
        other => panic!("expected init_ok, got {other:?}"),
    }

    let open = Request::OpenReceipt(OpenReceipt { lane: LANE.into(), kind: ReceiptKind::Sale });
    assert!(matches!(ask(&mut sut, open).await.body, ReplyBody::ReceiptOpened(_)));

    let (code, product) = milk_code(&stack, "in-circulation");
    let price = product.price_kopecks;
    let item = scan(&mut sut, &code, product).await;
    assert_eq!(item.decision, Decision::Accepted, "in circulation: {item:?}; {:?}", sut.stderr_tail());
    assert_eq!(item.reason, None);

    for (case, reason) in [("expired", Reason::Expired), ("blocked", Reason::Blocked), ("sold", Reason::Sold)]
    {
        let (code, product) = milk_code(&stack, case);
        let item = scan(&mut sut, &code, product).await;
        assert_eq!(item.decision, Decision::Rejected, "{case}: {item:?}");
        assert_eq!(item.reason, Some(reason), "{case}: {item:?}");
    }

    let close = Request::CloseReceipt(CloseReceipt {
        lane: LANE.into(),
        payment: Payment { method: PaymentMethod::Electronic, amount_kopecks: price },
    });
    match ask(&mut sut, close).await.body {
        ReplyBody::ReceiptClosed(c) => assert_eq!(c.fiscal_document_number, 1),
        other => panic!("expected receipt_closed, got {other:?}"),
    }

    // No receipt is open any more: the example answers with a protocol `error`, not a crash.
    let cancel = Request::CancelReceipt(CancelReceipt { lane: LANE.into() });
    assert!(matches!(ask(&mut sut, cancel).await.body, ReplyBody::Error(_)));

    assert!(matches!(ask(&mut sut, Request::Shutdown(Shutdown {})).await.body, ReplyBody::ShutdownOk(_)));
    let stderr = sut.stderr_tail();
    let status = sut.finish(Duration::from_secs(5)).await;
    assert_eq!(status, "exit status: 0", "stderr: {stderr:?}");
    assert!(stderr.iter().any(|l| l.contains("init lane lane-1")), "logs go to stderr: {stderr:?}");
    stack.shutdown().await;
}
