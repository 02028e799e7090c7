//! The paper form of the documents: a receipt as a fixed-width slip (spec `kkt.md` §10.4) with the
//! `[М+]`/`[М-]`/`[М]` mark before each marked item's name (§4.7) and its 2115 control code (§4.19),
//! and a one-line summary of every other document kind.
//!
//! A position is "marked" when it carries 2106, or the KKT recorded a checked КМ for it, or its 1212 is
//! 31/33 (goods with a code); a marked position without 2106 is printed as 2106 = 0, `[М]`. Dates are
//! the ФН's local seconds printed as they are (they already are local time).

use super::document::{Document, Kopecks, OperationType, Quantity, Receipt, ReceiptItem, ShiftReportKind};

/// Width of the slip in characters.
pub const WIDTH: usize = 42;

/// The admissible values of 2106 (§4.7); any other value is invalid.
pub const ADMISSIBLE_2106: [u8; 9] = [0, 1, 3, 5, 7, 15, 16, 17, 19];

/// The mark printed before a marked item (Cyrillic М): `[М+]` iff 2106 = 15; `[М-]` iff (bit 0 ∧ ¬bit 1)
/// ∨ (bit 2 ∧ ¬bit 3); otherwise `[М]`. Total over `u8`, so an invalid 2106 still gets the mark the
/// rule gives.
pub fn marking_mark(tag_2106: u8) -> &'static str {
    let bit = |n: u8| tag_2106 & (1 << n) != 0;
    if tag_2106 == 15 {
        "[М+]"
    } else if (bit(0) && !bit(1)) || (bit(2) && !bit(3)) {
        "[М-]"
    } else {
        "[М]"
    }
}

/// Whether `v` is one of the admissible 2106 values 0, 1, 3, 5, 7, 15, 16, 17, 19.
pub fn is_admissible_2106(v: u8) -> bool {
    ADMISSIBLE_2106.contains(&v)
}

/// Whether the position is printed with a mark (see the module doc).
pub fn is_marked(item: &ReceiptItem) -> bool {
    item.check_result.is_some() || item.marking.is_some() || matches!(item.product_type, 31 | 33)
}

impl Document {
    /// The paper form: the full slip of a receipt, one line for every other document.
    pub fn to_paper(&self) -> String {
        render(self)
    }
}

/// The paper form of any document.
pub fn render(doc: &Document) -> String {
    match doc {
        Document::Receipt(r) => render_receipt(r),
        Document::MarkingRequest(d) => format!(
            "ЗАПРОС О КМ № {} {} статус {} проверка ФН {} тип КМ {}\n",
            d.request_number,
            date_time(d.local_time),
            d.planned_status,
            d.local_check,
            d.code_type
        ),
        Document::MarkingAnswer(d) => format!(
            "ОТВЕТ НА ЗАПРОС № {} {} код {} результат {}{}\n",
            d.request_number,
            date_time(d.local_time),
            d.processing_code,
            d.result,
            d.item_status.map(|s| format!(" статус {s}")).unwrap_or_default()
        ),
        Document::Notification(d) => format!(
            "УВЕДОМЛЕНИЕ О РЕАЛИЗАЦИИ № {} {} позиций {} ФН {} ФП {:010}\n",
            d.notification_number,
            date_time(d.local_time),
            d.items.len(),
            d.fn_serial,
            d.fiscal_sign
        ),
        Document::Ticket(d) => format!(
            "КВИТАНЦИЯ НА УВЕДОМЛЕНИЕ № {} {} код {}{}\n",
            d.notification_number,
            date_time(d.local_time),
            d.result,
            d.items_result.map(|r| format!(" результат {r}")).unwrap_or_default()
        ),
        Document::ShiftReport(d) => {
            let title = match d.kind {
                ShiftReportKind::Open => "ОТЧЁТ ОБ ОТКРЫТИИ СМЕНЫ",
                ShiftReportKind::Close => "ОТЧЁТ О ЗАКРЫТИИ СМЕНЫ",
            };
            let mut line = format!("{title} № {} {}", d.shift_number, date_time(d.header.local_time));
            if d.kind == ShiftReportKind::Close {
                line.push_str(&format!(" чеков {}", d.receipts_in_shift));
            }
            if let Some(n) = d.unsent_notifications {
                line.push_str(&format!(" непереданных уведомлений {n}"));
            }
            line.push_str(&format!(" ФД {} ФП {:010}\n", d.header.number, d.header.fiscal_sign));
            line
        }
    }
}

/// The slip of a receipt.
pub fn render_receipt(r: &Receipt) -> String {
    let mut out = Slip::default();
    out.center("КАССОВЫЙ ЧЕК");
    out.center(match r.operation {
        OperationType::Sale => "ПРИХОД",
        OperationType::SaleReturn => "ВОЗВРАТ ПРИХОДА",
    });
    out.pair(&format!("Смена № {}", r.shift_number), &format!("Чек № {}", r.receipt_number));
    out.text(&date_time(r.header.local_time));
    if let Some(name) = &r.operator_name {
        out.text(&format!("Кассир: {name}"));
    }
    if let Some(inn) = &r.operator_inn {
        out.text(&format!("ИНН кассира: {inn}"));
    }
    out.rule();
    for item in &r.items {
        let name = if is_marked(item) {
            format!("{} {}", marking_mark(item.check_result.unwrap_or(0)), item.name)
        } else {
            item.name.clone()
        };
        out.text(&name);
        let quantity = match &item.fractional {
            Some(fraction) => fraction.part.clone(),
            None => format!("{} {}", quantity(item.quantity), unit(item.measure)).trim_end().to_owned(),
        };
        out.pair(&format!("  {quantity} x {}", money(item.price)), &format!("={}", money(item.sum)));
        match item.vat_sum {
            Some(vat) => out.pair(&format!("  {}", vat_rate(item.vat_rate)), &format!("={}", money(vat))),
            None => out.text(&format!("  {}", vat_rate(item.vat_rate))),
        }
        if let Some(code) = &item.control_code {
            out.text(&format!("  Контрольный код КМ: {code}"));
        }
    }
    out.rule();
    out.pair("ИТОГ", &format!("={}", money(r.total)));
    let p = &r.payments;
    for (label, sum) in [
        ("НАЛИЧНЫМИ", p.cash),
        ("БЕЗНАЛИЧНЫМИ", p.electronic),
        ("ПРЕДОПЛАТОЙ", p.prepaid),
        ("ПОСТОПЛАТОЙ", p.credit),
        ("ВСТРЕЧНЫМ ПРЕДОСТАВЛЕНИЕМ", p.other),
    ] {
        if sum.0 > 0 {
            out.pair(label, &format!("={}", money(sum)));
        }
    }
    out.rule();
    out.text(&format!("ИНН {}", r.header.user_inn));
    out.text(&format!("РН ККТ {}", r.header.kkt_reg_number));
    out.text(&format!("ФН {}", r.header.fn_serial));
    out.pair(&format!("ФД {}", r.header.number), &format!("ФП {:010}", r.header.fiscal_sign));
    out.0
}

/// Lines of at most [`WIDTH`] characters.
#[derive(Default)]
struct Slip(String);

impl Slip {
    fn line(&mut self, line: &str) {
        self.0.push_str(line.trim_end());
        self.0.push('\n');
    }

    /// Text wrapped at word boundaries, continuation lines keep the leading indent; words longer than
    /// the width are cut.
    fn text(&mut self, text: &str) {
        let body = text.trim_start();
        let indent =
            if width(text) - width(body) < WIDTH / 2 { &text[..text.len() - body.len()] } else { "" };
        let mut current = indent.to_owned();
        let mut fresh = true;
        for word in body.split_whitespace() {
            if !fresh && width(&current) + 1 + width(word) > WIDTH {
                self.line(&current);
                current = indent.to_owned();
                fresh = true;
            }
            if !fresh {
                current.push(' ');
            }
            current.push_str(word);
            fresh = false;
            while width(&current) > WIDTH {
                let head: String = current.chars().take(WIDTH).collect();
                current = format!("{indent}{}", current.chars().skip(WIDTH).collect::<String>());
                self.line(&head);
            }
        }
        if !fresh || body.is_empty() {
            self.line(&current);
        }
    }

    /// `left` and `right` on one line, `right` flush right; on two lines when they do not fit.
    fn pair(&mut self, left: &str, right: &str) {
        let used = width(left) + width(right);
        if used < WIDTH {
            self.line(&format!("{left}{}{right}", " ".repeat(WIDTH - used)));
        } else {
            self.text(left);
            self.line(&format!("{}{right}", " ".repeat(WIDTH.saturating_sub(width(right)))));
        }
    }

    fn center(&mut self, text: &str) {
        let pad = WIDTH.saturating_sub(width(text)) / 2;
        self.line(&format!("{}{text}", " ".repeat(pad)));
    }

    fn rule(&mut self) {
        self.line(&"-".repeat(WIDTH));
    }
}

fn width(s: &str) -> usize {
    s.chars().count()
}

/// Roubles with two decimals: `9490` → `94.90`.
pub fn money(k: Kopecks) -> String {
    format!("{}.{:02}", k.0 / 100, k.0 % 100)
}

/// The quantity with the digits after the point it was given with: scale 3, 1500 → `1.500`.
pub fn quantity(q: Quantity) -> String {
    let digits = q.mantissa.to_string();
    let scale = usize::from(q.scale);
    if scale == 0 {
        return digits;
    }
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{int}.{frac}")
}

/// `DD.MM.YYYY HH:MM` of local Unix seconds.
pub fn date_time(local: u32) -> String {
    match time::OffsetDateTime::from_unix_timestamp(i64::from(local)) {
        Ok(t) => format!(
            "{:02}.{:02}.{:04} {:02}:{:02}",
            t.day(),
            u8::from(t.month()),
            t.year(),
            t.hour(),
            t.minute()
        ),
        Err(_) => local.to_string(),
    }
}

/// Short name of a 2108 unit (§4.9).
fn unit(measure: u8) -> &'static str {
    match measure {
        0 => "шт",
        10 => "г",
        11 => "кг",
        12 => "т",
        20 => "см",
        21 => "дм",
        22 => "м",
        30 => "кв.см",
        31 => "кв.дм",
        32 => "кв.м",
        40 => "мл",
        41 => "л",
        42 => "куб.м",
        50 => "кВт*ч",
        51 => "Гкал",
        70 => "сут",
        71 => "ч",
        72 => "мин",
        73 => "с",
        80 => "Кбайт",
        81 => "Мбайт",
        82 => "Гбайт",
        83 => "Тбайт",
        _ => "",
    }
}

/// The printed VAT rate of 1199.
fn vat_rate(rate: u8) -> String {
    match rate {
        1 => "НДС 20%".to_owned(),
        2 => "НДС 10%".to_owned(),
        3 => "НДС 20/120".to_owned(),
        4 => "НДС 10/110".to_owned(),
        5 => "НДС 0%".to_owned(),
        6 => "БЕЗ НДС".to_owned(),
        7 => "НДС 5%".to_owned(),
        8 => "НДС 7%".to_owned(),
        9 => "НДС 5/105".to_owned(),
        10 => "НДС 7/107".to_owned(),
        other => format!("НДС ({other})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_follow_the_table_of_4_7() {
        let table = [
            (0, "[М]"),
            (1, "[М-]"),
            (3, "[М]"),
            (5, "[М-]"),
            (7, "[М-]"),
            (15, "[М+]"),
            (16, "[М]"),
            (17, "[М-]"),
            (19, "[М]"),
        ];
        for (value, mark) in table {
            assert_eq!(marking_mark(value), mark, "2106 = {value}");
            assert!(is_admissible_2106(value));
        }
        for v in [2, 4, 9, 13, 14, 18, 20, 31, 255] {
            assert!(!is_admissible_2106(v), "{v}");
        }
        assert!(marking_mark(15).starts_with("[\u{41c}"), "Cyrillic М");
        // The rule on invalid values: 13 = bits 0, 2, 3 → КП negative.
        assert_eq!(marking_mark(13), "[М-]");
        assert_eq!(marking_mark(2), "[М]");
    }

    #[test]
    fn numbers() {
        assert_eq!(money(Kopecks(9490)), "94.90");
        assert_eq!(money(Kopecks(5)), "0.05");
        assert_eq!(quantity(Quantity { mantissa: 1500, scale: 3 }), "1.500");
        assert_eq!(quantity(Quantity { mantissa: 5, scale: 1 }), "0.5");
        assert_eq!(quantity(Quantity { mantissa: 5, scale: 3 }), "0.005");
        assert_eq!(quantity(Quantity::whole(2)), "2");
        assert_eq!(date_time(1_700_000_000), "14.11.2023 22:13");
    }

    #[test]
    fn slip_lines_fit_the_width() {
        let mut slip = Slip::default();
        slip.text(&"слово ".repeat(20));
        slip.text(&"x".repeat(100));
        slip.pair(&"л".repeat(40), "=1.00");
        slip.center("ИТОГ");
        slip.text("  Контрольный код КМ: 1A2B");
        assert!(slip.0.contains("\n  Контрольный код КМ: 1A2B\n"));
        assert!(slip.0.lines().all(|l| width(l) <= WIDTH), "{}", slip.0);
        assert!(slip.0.lines().any(|l| l.ends_with("=1.00")));
    }
}
