//! The embedded default world: a product for every product group with a known layout, and codes
//! covering every state and ban case of `true-api.md` §6 and §10 (in circulation, emitted, applied,
//! sold, withdrawn, blocked by a body, permit document terminated, veterinary certificate annulled,
//! expired, crypto wrong, grey zone, not owned, EAEU verdicts 8 / 11, prices around МРЦ / ЕМЦ / МЦ).
//!
//! Built deterministically from a seed, with dates relative to the world clock at build time, so the
//! same call gives the same codes and every date is meaningful whenever the world is loaded. Each code
//! carries a `case` label naming what it is for.

use super::{
    ApiKey, CodeRecord, CodeState, Crypto, FiscalDrive, Origin, Participant, PosSoftware, Product, World,
    WorldError,
};
use markcert_codes::generate::{random_spec, CodeSpec};
use markcert_codes::{groups, Layout};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// INN of the store under test in the default world.
pub const STORE_INN: &str = "7701000019";
/// INN of another participant (owner of the "not owned" codes).
pub const OTHER_INN: &str = "7702000016";
/// The store's `X-API-KEY` in the default world.
pub const STORE_API_KEY: &str = "0f5c2a8e-4b1d-4c7a-9e3f-6d2b8a1c7e45";
/// ФН serial of the store's KKT in the default world (bound to [`STORE_INN`]).
pub const STORE_FN_SERIAL: &str = "7380440700000123";
/// Serial of the store's KKT.
pub const STORE_KKT_SERIAL: &str = "00107700000042";
/// A ФН of the other participant (bound to [`OTHER_INN`]).
pub const OTHER_FN_SERIAL: &str = "7380440700000130";
/// A ФН of the store that is not registered for marked goods.
pub const NON_MARKING_FN_SERIAL: &str = "7380440700000147";
/// Registry id of the POS program registered in the default world.
pub const POS_SOFTWARE_ID: &str = "markcert-reference-pos";
/// Its key.
pub const POS_SOFTWARE_TOKEN: &str = "3b9d6f0e-8a2c-4e71-b5d4-2f6c1a9e0b37";

/// Producer INN written on Russian products.
pub const PRODUCER_INN: &str = "7703000013";

const DAY_MS: i64 = 86_400_000;

/// Pack MRP, ЕМЦ and pack count of the default tobacco products (kopecks).
pub const TOBACCO_PACK_MRP: u64 = 18_500;
/// ЕМЦ of a default tobacco pack.
pub const TOBACCO_PACK_SMP: u64 = 13_500;
/// Packs per default block.
pub const PACKS_PER_BLOCK: u32 = 10;
/// МЦ (minimum price) of the default nicotine product.
pub const NCP_MIN_PRICE: u64 = 45_000;

/// Build the default world at world time `now_ms`.
pub fn default_world(now_ms: i64) -> Result<World, WorldError> {
    let mut w = World::new(STORE_INN);
    w.tracking_groups = vec![3, 12, 16];
    w.add_participant(Participant {
        inn: STORE_INN.into(),
        name: "ООО «Магазин у дома»".into(),
        api_keys: vec![ApiKey { token: STORE_API_KEY.into(), expires_ms: None }],
    })?;
    w.add_participant(Participant {
        inn: OTHER_INN.into(),
        name: "ООО «Соседи»".into(),
        api_keys: Vec::new(),
    })?;
    // The master secret is 32 zero bytes, so the spec's derivation check (tspiot.md §9.1) holds for the
    // store's ФН: K_fn = d712bd42…c6026a.
    w.master_secret = [0u8; 32];
    for (serial, kkt, inn, marking) in [
        (STORE_FN_SERIAL, STORE_KKT_SERIAL, STORE_INN, true),
        (OTHER_FN_SERIAL, "00107700000059", OTHER_INN, true),
        (NON_MARKING_FN_SERIAL, "00107700000066", STORE_INN, false),
    ] {
        w.add_fiscal_drive(FiscalDrive {
            serial: serial.into(),
            kkt_serial: kkt.into(),
            inn: inn.into(),
            marking,
            auth_secret: None,
        })?;
    }
    w.add_pos_software(PosSoftware {
        id: POS_SOFTWARE_ID.into(),
        token: POS_SOFTWARE_TOKEN.into(),
        name: Some("markcert reference POS".into()),
    })?;
    let mut rng = ChaCha8Rng::seed_from_u64(0x6D61_726B_6365_7274);
    let mut index = 0u32;
    for group in groups::all() {
        for &layout in &group.layouts {
            index += 1;
            let product = product_for(group.id, &group.name, layout, index);
            let gtin = product.gtin.clone();
            w.add_product(product.clone())?;
            for (case, record) in cases(group.id, layout, &product, now_ms) {
                let mut spec = random_spec(layout, &mut rng);
                spec.gtin = gtin.clone();
                if layout == Layout::TobaccoPack {
                    spec.mrp_kopecks = product.mrp_kopecks.map(|k| k as u32);
                }
                let code = render_unique(&w, spec, layout, &mut rng);
                w.add_code(CodeRecord { code, case: Some(case.into()), ..record })?;
            }
        }
    }
    add_eaeu_dairy(&mut w, &mut rng, now_ms)?;
    add_gtin_listed(&mut w, &mut rng, now_ms)?;
    Ok(w)
}

/// Render `spec`, redrawing the serial until the identity is new in `w`.
fn render_unique(w: &World, mut spec: CodeSpec, layout: Layout, rng: &mut ChaCha8Rng) -> String {
    loop {
        let code = spec.render_string();
        if super::identity(&code).is_some_and(|ki| w.code_by_identity(&ki).is_none()) {
            return code;
        }
        spec.serial = random_spec(layout, rng).serial;
    }
}

fn gtin_for(index: u32) -> String {
    let body = format!("0460{:09}", 100_000 + index);
    let body: [u8; 13] = body.as_bytes().try_into().unwrap_or(*b"0460000000000");
    let full = markcert_codes::gtin::complete(&body).unwrap_or(*b"04600000000000");
    String::from_utf8_lossy(&full).into_owned()
}

fn product_for(group: u16, group_name: &str, layout: Layout, index: u32) -> Product {
    let (name, price, mrp, smp, packs, shelf, measure) = match (group, layout) {
        (3, Layout::TobaccoPack) => (
            "Сигареты «Тестовые»",
            TOBACCO_PACK_MRP,
            Some(TOBACCO_PACK_MRP),
            Some(TOBACCO_PACK_SMP),
            None,
            None,
            "piece",
        ),
        (3, Layout::TobaccoBlock) => (
            "Сигареты «Тестовые», блок",
            TOBACCO_PACK_MRP * u64::from(PACKS_PER_BLOCK),
            Some(TOBACCO_PACK_MRP * u64::from(PACKS_PER_BLOCK)),
            Some(TOBACCO_PACK_SMP * u64::from(PACKS_PER_BLOCK)),
            Some(PACKS_PER_BLOCK),
            None,
            "piece",
        ),
        (12, Layout::TobaccoPack) => {
            ("Стики для нагревания", 16_000, Some(16_000), None, None, None, "piece")
        }
        (12, _) => {
            ("Стики для нагревания, блок", 160_000, Some(160_000), None, Some(PACKS_PER_BLOCK), None, "piece")
        }
        (16, _) => ("Никотиновые пластины", 52_000, Some(NCP_MIN_PRICE), None, None, None, "piece"),
        (8, _) => ("Молоко 3,2% 1 л", 8_990, None, None, None, Some(10), "piece"),
        (15, _) | (22, _) => ("Пиво светлое 0,5 л", 11_990, None, None, None, Some(180), "piece"),
        (13, _) => ("Вода питьевая 1,5 л", 4_990, None, None, None, Some(365), "piece"),
        _ => (group_name, 99_900, None, None, None, None, "piece"),
    };
    Product {
        gtin: gtin_for(index),
        group,
        name: name.to_string(),
        price_kopecks: price,
        vat: "vat20".into(),
        measure: measure.into(),
        shelf_life_days: shelf,
        mrp_kopecks: mrp,
        smp_kopecks: smp,
        pack_count: packs,
        producer_inn: Some(PRODUCER_INN.into()),
        blocked_by: Vec::new(),
        grey_gtin: false,
    }
}

/// The cases registered for one product: `(label, record template)`.
fn cases(group: u16, layout: Layout, product: &Product, now_ms: i64) -> Vec<(&'static str, CodeRecord)> {
    let base = |state: CodeState| CodeRecord {
        state,
        owner_inn: Some(STORE_INN.into()),
        production_ms: Some(now_ms - 2 * DAY_MS),
        expire_ms: product.shelf_life_days.map(|d| now_ms + i64::from(d) * DAY_MS),
        ..CodeRecord::introduced(String::new())
    };
    let mut v = vec![
        ("in-circulation", base(CodeState::Introduced)),
        ("in-circulation", base(CodeState::Introduced)),
        ("in-circulation", base(CodeState::Introduced)),
        ("emitted", base(CodeState::Emitted)),
        ("applied", base(CodeState::Applied)),
        ("sold", base(CodeState::Sold)),
        ("withdrawn", CodeRecord { elimination_state: Some(1), ..base(CodeState::Withdrawn) }),
        ("blocked", CodeRecord { blocked_by: vec!["RPN".into()], ..base(CodeState::Introduced) }),
        ("crypto-invalid", CodeRecord { crypto: Crypto::SignatureInvalid, ..base(CodeState::Introduced) }),
        ("not-owner", CodeRecord { owner_inn: Some(OTHER_INN.into()), ..base(CodeState::Introduced) }),
        ("permit-terminated", CodeRecord { blocked_by: vec!["RD".into()], ..base(CodeState::Introduced) }),
    ];
    if product.shelf_life_days.is_some() {
        v.push((
            "expired",
            CodeRecord { expire_ms: Some(now_ms - 3_600_000), ..base(CodeState::Introduced) },
        ));
        v.push((
            "expires-tomorrow",
            CodeRecord { expire_ms: Some(now_ms + DAY_MS), ..base(CodeState::Introduced) },
        ));
    }
    if matches!(group, 8 | 25 | 21) {
        v.push((
            "vet-certificate-annulled",
            CodeRecord { blocked_by: vec!["VETRF".into()], ..base(CodeState::Introduced) },
        ));
    }
    if group == 3 && layout == Layout::TobaccoPack {
        v.push(("grey-zone", CodeRecord { gray_zone: true, ..base(CodeState::Applied) }));
        v.push(("grey-zone", CodeRecord { gray_zone: true, ..base(CodeState::Applied) }));
    }
    if layout == Layout::TobaccoBlock || layout == Layout::Beer {
        v.push((
            "partially-sold",
            CodeRecord {
                inner_unit_count: Some(10),
                sold_unit_count: Some(3),
                ..base(CodeState::Introduced)
            },
        ));
    }
    v
}

/// Belarusian dairy (`codes.md` §8): S13-44 layout with a serial starting `2`, no producer INN.
fn add_eaeu_dairy(w: &mut World, rng: &mut ChaCha8Rng, now_ms: i64) -> Result<(), WorldError> {
    let gtin = gtin_for(999);
    w.add_product(Product {
        gtin: gtin.clone(),
        group: 8,
        name: "Молоко белорусское 2,5% 1 л".into(),
        price_kopecks: 9_490,
        vat: "vat10".into(),
        measure: "piece".into(),
        shelf_life_days: Some(14),
        mrp_kopecks: None,
        smp_kopecks: None,
        pack_count: None,
        producer_inn: None,
        blocked_by: Vec::new(),
        grey_gtin: false,
    })?;
    for (case, origin) in [
        ("eaeu-ok", Origin::EaeuOk),
        ("eaeu-ok", Origin::EaeuOk),
        ("eaeu-failed-in-issuing-country", Origin::EaeuFailed),
        ("eaeu-not-in-cross-border-service", Origin::EaeuNotFound),
    ] {
        let mut spec = random_spec(Layout::S13T44, rng);
        spec.gtin = gtin.clone();
        spec.serial.replace_range(0..1, "2");
        let code = render_unique(w, spec, Layout::S13T44, rng);
        w.add_code(CodeRecord {
            origin,
            case: Some(case.into()),
            owner_inn: Some(STORE_INN.into()),
            production_ms: Some(now_ms - 3 * DAY_MS),
            expire_ms: Some(now_ms + 11 * DAY_MS),
            ..CodeRecord::introduced(code)
        })?;
    }
    Ok(())
}

/// Products on the ЛМ ЧЗ GTIN lists (`local-module.md` §6, §7): recalled water whose GTIN is blocked
/// (online: `isBlocked` with `ogvs`; offline: blocked GTIN), and milk whose GTIN is on the grey list
/// (online: sellable; offline: `isBlocked` + `isGreyGtin`, a decision only the online check can make).
fn add_gtin_listed(w: &mut World, rng: &mut ChaCha8Rng, now_ms: i64) -> Result<(), WorldError> {
    let water = Product {
        name: "Вода питьевая 0,5 л (партия отозвана)".into(),
        blocked_by: vec!["RPN".into()],
        ..product_for(13, "water", Layout::S13T93, 997)
    };
    let milk = Product {
        name: "Молоко 3,2% 1 л (серый GTIN)".into(),
        grey_gtin: true,
        ..product_for(8, "milk", Layout::Milk, 998)
    };
    for (product, layout, case) in
        [(water, Layout::S13T93, "gtin-blocked"), (milk, Layout::Milk, "gtin-grey")]
    {
        let gtin = product.gtin.clone();
        w.add_product(product.clone())?;
        for _ in 0..3 {
            let (_, record) = cases(product.group, layout, &product, now_ms).swap_remove(0);
            let mut spec = random_spec(layout, rng);
            spec.gtin = gtin.clone();
            let code = render_unique(w, spec, layout, rng);
            w.add_code(CodeRecord { code, case: Some(case.into()), ..record })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_767_225_600_000;

    #[test]
    fn default_world_covers_every_layout_state_and_case() {
        let w = default_world(NOW).unwrap();
        let codes = w.codes();
        assert!(codes.len() >= 300, "{} codes", codes.len());
        let layouts: std::collections::BTreeSet<Layout> = codes
            .iter()
            .filter_map(|c| markcert_codes::parse(c.code.as_bytes()).ok())
            .map(|c| c.layout())
            .collect();
        for l in Layout::ALL.into_iter().filter(|&l| l != Layout::KiOnly) {
            assert!(layouts.contains(&l), "no {l} code");
        }
        let cases: std::collections::BTreeSet<&str> =
            codes.iter().filter_map(|c| c.case.as_deref()).collect();
        for want in [
            "in-circulation",
            "emitted",
            "applied",
            "sold",
            "withdrawn",
            "blocked",
            "permit-terminated",
            "vet-certificate-annulled",
            "expired",
            "crypto-invalid",
            "grey-zone",
            "not-owner",
            "partially-sold",
            "eaeu-ok",
            "eaeu-failed-in-issuing-country",
            "eaeu-not-in-cross-border-service",
            "gtin-blocked",
            "gtin-grey",
        ] {
            assert!(cases.contains(want), "no {want} code");
        }
        // Every code's GTIN is in the catalogue, and the layout fits its group (EAEU aside).
        for c in &codes {
            let parsed = markcert_codes::parse(c.code.as_bytes()).unwrap();
            let p = w.product(parsed.gtin()).unwrap();
            if c.origin == Origin::Russia {
                assert!(parsed.group_candidates().contains(&p.group), "{} in group {}", c.code, p.group);
            }
        }
    }

    #[test]
    fn default_world_registers_the_store_fn_with_the_spec_secret() {
        let w = default_world(NOW).unwrap();
        let k = w.fn_secret(STORE_FN_SERIAL).unwrap();
        assert_eq!(
            crate::fnauth::secrets::to_hex(&k),
            "d712bd4256b91069287c30191043c437ca1356fd8ee247aeefdc06f859c6026a"
        );
        assert_eq!(w.fiscal_drive(OTHER_FN_SERIAL).unwrap().inn, OTHER_INN);
        assert!(!w.fiscal_drive(NON_MARKING_FN_SERIAL).unwrap().marking);
        assert_eq!(w.pos_software_by_id(POS_SOFTWARE_ID).unwrap().token, POS_SOFTWARE_TOKEN);
    }

    #[test]
    fn default_world_is_deterministic() {
        assert_eq!(default_world(NOW).unwrap(), default_world(NOW).unwrap());
    }

    #[test]
    fn pack_codes_carry_the_catalogue_mrp() {
        let w = default_world(NOW).unwrap();
        for c in w.codes() {
            let parsed = markcert_codes::parse(c.code.as_bytes()).unwrap();
            if parsed.layout() == Layout::TobaccoPack {
                let p = w.product(parsed.gtin()).unwrap();
                assert_eq!(parsed.mrp_kopecks().map(u64::from), p.mrp_kopecks, "{}", c.code);
            }
        }
    }
}
