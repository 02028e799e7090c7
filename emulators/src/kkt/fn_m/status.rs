//! The marking status of the ФН-М as `checkImcWorkState` reports it (`kkt.md` §6.2, §6.3, §10.2): the
//! check state 0–4, the counters, the notification state and the store's fill level, with the ATOL
//! names of each value.

use super::notices::level_atol_name;

/// `fm` of `checkImcWorkState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MarkingStatus {
    /// 0 blocked, 1 idle, 2 code received, 3 request formed, 4 answer received (§6.2).
    pub state: u8,
    /// Checks begun (B1h) since the last notification or table clear (`checkingCount`).
    pub checking_count: u32,
    /// Codes accepted into the table, to go into the next notification (`soldImcCount`).
    pub sold_imc_count: u32,
    /// Notification state: 0 not forming, 1 forming (the table holds accepted codes), 2 forming
    /// blocked (store full).
    pub notice_state: u8,
    /// Fill level of the notification store, 0–4 (§6.3).
    pub notice_level: u8,
    /// Notifications without a ticket (`noticeCount`, 2104).
    pub notice_count: u32,
}

impl MarkingStatus {
    /// ATOL `fm.status`.
    pub fn state_name(&self) -> &'static str {
        match self.state {
            0 => "blocked",
            1 => "noImcForCheck",
            2 => "receivedImc",
            3 => "requestedImcStatus",
            _ => "receivedImcStatus",
        }
    }

    /// ATOL `fm.noticeFreeMemory`.
    pub fn notice_level_name(&self) -> &'static str {
        level_atol_name(self.notice_level)
    }

    /// ATOL `fm.noticeIsBegin`.
    pub fn notice_is_begin(&self) -> bool {
        self.notice_state != 0
    }

    /// True when the level asks for a warning (levels 1–3) or blocks marked sales (4).
    pub fn notice_warning(&self) -> bool {
        self.notice_level > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atol_names() {
        let mut s = MarkingStatus {
            state: 0,
            checking_count: 0,
            sold_imc_count: 0,
            notice_state: 0,
            notice_level: 0,
            notice_count: 0,
        };
        let names: Vec<_> = (0..=4)
            .map(|st| {
                s.state = st;
                s.state_name()
            })
            .collect();
        assert_eq!(
            names,
            ["blocked", "noImcForCheck", "receivedImc", "requestedImcStatus", "receivedImcStatus"]
        );
        s.notice_level = 3;
        assert_eq!((s.notice_level_name(), s.notice_warning(), s.notice_is_begin()), ("more90", true, false));
        s.notice_state = 2;
        assert!(s.notice_is_begin());
    }
}
