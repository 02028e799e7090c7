//! The ФН-М notification store (`kkt.md` §6.3, §7.2, §4.12): notifications 82 kept until their ticket
//! 84 arrives (or they are unloaded from an autonomous KKT), the fill level 0–4, and the flags the next
//! shift-close report carries (2104, 2112, 2113).

use crate::ffd::{MarkingAnswer, Notification, Ticket};
use std::collections::BTreeMap;

/// 2112 bit 1: an answer 83 with an incorrect КМ arrived.
pub const INCORRECT_CODE_IN_ANSWER: u8 = 0b0000_0010;
/// 2112 bit 2: a ticket 84 with an incorrect КМ arrived.
pub const INCORRECT_CODE_IN_TICKET: u8 = 0b0000_0100;
/// 2113 bit 0: at least one negative request result.
pub const NEGATIVE_REQUEST: u8 = 0b0000_0001;
/// 2113 bit 1: at least one negative notification result.
pub const NEGATIVE_NOTIFICATION: u8 = 0b0000_0010;

/// Fill level of a store holding `count` of `capacity` notifications (`kkt.md` §6.3): 0 below 50 %,
/// 1 from 50 % to 80 %, 2 from 80 % to 90 % (inclusive), 3 above 90 %, 4 full.
pub fn fill_level(count: usize, capacity: u32) -> u8 {
    let (count, capacity) = (count as u64, u64::from(capacity.max(1)));
    let percent100 = count * 100;
    if count >= capacity {
        4
    } else if percent100 > 90 * capacity {
        3
    } else if percent100 >= 80 * capacity {
        2
    } else if percent100 >= 50 * capacity {
        1
    } else {
        0
    }
}

/// ATOL `noticeFreeMemory` of a fill level.
pub fn level_atol_name(level: u8) -> &'static str {
    match level {
        0 => "less50",
        1 => "50to80",
        2 => "80to90",
        3 => "more90",
        _ => "outOfMemory",
    }
}

/// The store and the shift flags.
#[derive(Clone, Debug, Default)]
pub(crate) struct NoticeStore {
    /// Notifications without a ticket, by 2002.
    pending: BTreeMap<u32, Notification>,
    /// 2112 bits since the last shift close.
    incorrect_codes: u8,
    /// 2113 bits since the last shift close.
    incorrect_requests: u8,
}

impl NoticeStore {
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn push(&mut self, n: Notification) {
        self.pending.insert(n.notification_number, n);
    }

    pub fn unsent(&self) -> impl Iterator<Item = &Notification> {
        self.pending.values()
    }

    pub fn unload(&mut self) -> Vec<Notification> {
        std::mem::take(&mut self.pending).into_values().collect()
    }

    /// Take the ticket of a stored notification: the notification leaves the store; a negative ticket
    /// sets 2112 bit 2 (a code was incorrect, 2006 = 1) and 2113 bit 1 (2111 = 1 or 2006 = 1).
    pub fn take_ticket(&mut self, ticket: &Ticket) -> Option<Notification> {
        let n = self.pending.remove(&ticket.notification_number)?;
        if ticket.items_result == Some(1) {
            self.incorrect_codes |= INCORRECT_CODE_IN_TICKET;
        }
        if ticket.result != 0 || ticket.items_result == Some(1) {
            self.incorrect_requests |= NEGATIVE_NOTIFICATION;
        }
        Some(n)
    }

    /// Record answer 83: an incorrect КМ (2105 = 2, or 2105 = 0 with 2005 bit 1 clear) sets 2112 bit 1;
    /// any negative result (2105 ≠ 0, or 2005 bit 1 or bit 3 clear) sets 2113 bit 0.
    pub fn note_answer(&mut self, a: &MarkingAnswer) {
        let code_incorrect = a.processing_code == 2 || (a.processing_code == 0 && a.result & 0b10 == 0);
        if code_incorrect {
            self.incorrect_codes |= INCORRECT_CODE_IN_ANSWER;
        }
        if a.processing_code != 0 || a.result & 0b1010 != 0b1010 {
            self.incorrect_requests |= NEGATIVE_REQUEST;
        }
    }

    pub fn flags(&self) -> (u8, u8) {
        (self.incorrect_codes, self.incorrect_requests)
    }

    pub fn reset_flags(&mut self) {
        self.incorrect_codes = 0;
        self.incorrect_requests = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_levels_at_the_boundaries() {
        let cases = [
            (0, 0),
            (4_999, 0),
            (5_000, 1),
            (7_999, 1),
            (8_000, 2),
            (9_000, 2),
            (9_001, 3),
            (9_999, 3),
            (10_000, 4),
            (12_000, 4),
        ];
        for (count, want) in cases {
            assert_eq!(fill_level(count, 10_000), want, "{count}");
        }
        assert_eq!(fill_level(0, 1), 0);
        assert_eq!(fill_level(1, 1), 4);
        assert_eq!(fill_level(1, 2), 1);
        assert_eq!(fill_level(9, 10), 2);
        let names: Vec<_> = (0..=4).map(level_atol_name).collect();
        assert_eq!(names, ["less50", "50to80", "80to90", "more90", "outOfMemory"]);
    }

    fn answer(processing_code: u8, result: u8) -> MarkingAnswer {
        MarkingAnswer {
            request_number: 1,
            local_time: 0,
            processing_code,
            code_type: Some(4),
            item_id: None,
            result,
            item_status: Some(1),
            processing_mode: 0,
        }
    }

    #[test]
    fn answer_flags() {
        // (2105, 2005) → (2112, 2113); 7 = КП fine, status wrong: only 2113.
        for (code, result, want) in
            [(0, 15, (0, 0)), (0, 7, (0, 1)), (0, 13, (2, 1)), (0, 5, (2, 1)), (2, 5, (2, 1)), (1, 5, (0, 1))]
        {
            let mut s = NoticeStore::default();
            s.note_answer(&answer(code, result));
            assert_eq!(s.flags(), want, "2105 {code}, 2005 {result}");
        }
    }
}
