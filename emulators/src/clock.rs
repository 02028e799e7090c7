//! The world clock: the one "now" behind every rule that markcert itself judges (spec §3.4) — the
//! ЛМ ЧЗ 72 h sync limit, token lifetimes, `reqTimestamp` values, expiry judged by an emulator.
//!
//! Owns: the world's current instant (Unix milliseconds, UTC) in one of two modes — `real` (the system
//! clock plus an adjustable offset; the default, so an IUT judging by its own wall clock agrees with
//! the world) and `frozen` (stands still at a set instant until moved) — and the text form of instants
//! on the wire, `yyyy-MM-dd'T'HH:mm:ss.SSS'Z'`.
//!
//! Must not: sleep, schedule or wake anything (timers belong to whoever reads the clock), or assume the
//! IUT sees this clock: moving it moves markcert-side timers only.
//!
//! Resolution is one millisecond. Reads and writes are lock-free: the mode and the offset (or frozen
//! instant) share one atomic word, so a reader never sees a mode paired with the other mode's value.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The earliest instant [`format_iso_ms`] writes: `0000-01-01T00:00:00.000Z`.
pub const ISO_MIN_MS: i64 = -62_167_219_200_000;
/// The latest instant [`format_iso_ms`] writes: `9999-12-31T23:59:59.999Z`.
pub const ISO_MAX_MS: i64 = 253_402_300_799_999;

/// Bounds of a stored instant or offset (±2⁶² ms, about ±146 million years): one bit of the atomic
/// word holds the mode.
const STORED_MIN: i64 = -(1 << 62);
const STORED_MAX: i64 = (1 << 62) - 1;
const FROZEN_BIT: i64 = 1;

/// How the world clock moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClockMode {
    /// Follows the system clock plus an offset.
    Real,
    /// Stands still until advanced, set or switched back to `Real`.
    Frozen,
}

/// A consistent reading of the clock, as the control API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockState {
    /// World time, Unix milliseconds UTC.
    pub now_ms: i64,
    /// World time as `yyyy-MM-dd'T'HH:mm:ss.SSS'Z'`.
    pub now: String,
    pub mode: ClockMode,
    /// World time minus system time at the moment of the reading (in both modes).
    pub offset_ms: i64,
}

/// Why a timestamp could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ClockError {
    #[error("not an RFC 3339 timestamp: {input:?}")]
    NotRfc3339 {
        input: String,
        #[source]
        source: time::error::Parse,
    },
}

/// The world clock. Clones share one clock.
#[derive(Clone)]
pub struct WorldClock {
    /// `(value << 1) | FROZEN_BIT?` where value is the offset from the system clock (real mode) or the
    /// instant itself (frozen mode), both in ms.
    word: Arc<AtomicI64>,
}

impl WorldClock {
    /// A clock following the system clock with zero offset.
    pub fn real() -> WorldClock {
        WorldClock { word: Arc::new(AtomicI64::new(pack(ClockMode::Real, 0))) }
    }

    /// A clock standing still at `unix_ms`.
    pub fn frozen_at(unix_ms: i64) -> WorldClock {
        WorldClock { word: Arc::new(AtomicI64::new(pack(ClockMode::Frozen, unix_ms))) }
    }

    /// World time, Unix milliseconds UTC.
    pub fn now_ms(&self) -> i64 {
        let (mode, value) = unpack(self.word.load(Ordering::Acquire));
        instant(mode, value, system_now_ms())
    }

    /// World time as `yyyy-MM-dd'T'HH:mm:ss.SSS'Z'` (see [`format_iso_ms`]).
    pub fn now_iso(&self) -> String {
        format_iso_ms(self.now_ms())
    }

    pub fn mode(&self) -> ClockMode {
        unpack(self.word.load(Ordering::Acquire)).0
    }

    /// Moves the world forward by `by` (truncated to whole milliseconds) in either mode.
    pub fn advance(&self, by: Duration) {
        let by_ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.update(|mode, value, _| (mode, value.saturating_add(by_ms)));
    }

    /// Puts the world at `unix_ms`, keeping the mode: a frozen clock stands at `unix_ms`; a real clock
    /// reads `unix_ms` now and runs on from there.
    pub fn set_ms(&self, unix_ms: i64) {
        self.update(|mode, _, system| match mode {
            ClockMode::Real => (mode, unix_ms.saturating_sub(system)),
            ClockMode::Frozen => (mode, unix_ms),
        });
    }

    /// Stops the clock at the current world instant. No-op when already frozen.
    pub fn freeze(&self) {
        self.update(|mode, value, system| (ClockMode::Frozen, instant(mode, value, system)));
    }

    /// Lets the clock run with the system clock again, from the current world instant. No-op when
    /// already real.
    pub fn follow_real(&self) {
        self.update(|mode, value, system| {
            (ClockMode::Real, instant(mode, value, system).saturating_sub(system))
        });
    }

    /// Mode, instant and offset read at one moment.
    pub fn snapshot(&self) -> ClockState {
        let (mode, value) = unpack(self.word.load(Ordering::Acquire));
        let system = system_now_ms();
        let now_ms = instant(mode, value, system);
        ClockState { now_ms, now: format_iso_ms(now_ms), mode, offset_ms: now_ms.saturating_sub(system) }
    }

    /// Replaces `(mode, value)` atomically; `change` gets the system time read for this attempt and may
    /// run more than once under contention.
    fn update(&self, mut change: impl FnMut(ClockMode, i64, i64) -> (ClockMode, i64)) {
        let mut current = self.word.load(Ordering::Acquire);
        loop {
            let (mode, value) = unpack(current);
            let (new_mode, new_value) = change(mode, value, system_now_ms());
            match self.word.compare_exchange_weak(
                current,
                pack(new_mode, new_value),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return,
                Err(actual) => current = actual,
            }
        }
    }
}

impl Default for WorldClock {
    fn default() -> WorldClock {
        WorldClock::real()
    }
}

impl fmt::Debug for WorldClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.snapshot();
        f.debug_struct("WorldClock").field("mode", &state.mode).field("now", &state.now).finish()
    }
}

/// Writes `unix_ms` as `yyyy-MM-dd'T'HH:mm:ss.SSS'Z'`, always with milliseconds.
///
/// Never panics: instants outside what four year digits can hold are clamped to [`ISO_MIN_MS`]
/// (`0000-01-01T00:00:00.000Z`) and [`ISO_MAX_MS`] (`9999-12-31T23:59:59.999Z`).
pub fn format_iso_ms(unix_ms: i64) -> String {
    // Hot path of every True API answer (expireDate, productionDate): digits written directly, no
    // formatter machinery. Civil date from days: H. Hinnant's `civil_from_days`.
    let ms = unix_ms.clamp(ISO_MIN_MS, ISO_MAX_MS);
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mut out = [0u8; 24];
    let mut put = |at: usize, width: usize, mut v: i64| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, month);
    put(8, 2, day);
    put(11, 2, in_day / 3_600_000);
    put(14, 2, in_day / 60_000 % 60);
    put(17, 2, in_day / 1000 % 60);
    put(20, 3, in_day % 1000);
    for (i, c) in [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':'), (19, b'.'), (23, b'Z')] {
        out[i] = c;
    }
    std::str::from_utf8(&out).map_or_else(|_| String::new(), str::to_owned)
}

/// Reads an RFC 3339 timestamp (including the `yyyy-MM-dd'T'HH:mm:ss.SSS'Z'` form written by
/// [`format_iso_ms`], any number of fraction digits, any UTC offset) as Unix milliseconds. Digits
/// below a millisecond are dropped toward the past.
pub fn parse_iso(s: &str) -> Result<i64, ClockError> {
    let t = OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|source| ClockError::NotRfc3339 { input: s.to_string(), source })?;
    let ms = t.unix_timestamp_nanos().div_euclid(1_000_000);
    // Four-digit years keep `ms` far inside i64; saturate rather than assume.
    Ok(i64::try_from(ms).unwrap_or(if ms < 0 { i64::MIN } else { i64::MAX }))
}

/// The system clock, Unix milliseconds UTC (negative before 1970, saturating far outside).
pub(crate) fn system_now_ms() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    }
}

fn instant(mode: ClockMode, value: i64, system_ms: i64) -> i64 {
    match mode {
        ClockMode::Real => system_ms.saturating_add(value),
        ClockMode::Frozen => value,
    }
}

fn pack(mode: ClockMode, value: i64) -> i64 {
    let bit = match mode {
        ClockMode::Real => 0,
        ClockMode::Frozen => FROZEN_BIT,
    };
    (value.clamp(STORED_MIN, STORED_MAX) << 1) | bit
}

fn unpack(word: i64) -> (ClockMode, i64) {
    let mode = if word & FROZEN_BIT == 0 { ClockMode::Real } else { ClockMode::Frozen };
    (mode, word >> 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HOUR: Duration = Duration::from_secs(3600);
    /// Slack for real-mode readings taken a few statements apart.
    const SLACK_MS: i64 = 5_000;

    /// The reference the hand-written [`format_iso_ms`] is checked against.
    fn iso_by_time_crate(ms: i64) -> String {
        let ms = ms.clamp(ISO_MIN_MS, ISO_MAX_MS);
        let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap();
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond()
        )
    }

    #[test]
    fn iso_format_edges() {
        for ms in [ISO_MIN_MS, ISO_MAX_MS, 0, -1, 951_782_400_000, 1_767_225_600_123, i64::MIN, i64::MAX] {
            assert_eq!(format_iso_ms(ms), iso_by_time_crate(ms), "{ms}");
        }
        assert_eq!(format_iso_ms(i64::MIN), "0000-01-01T00:00:00.000Z");
        assert_eq!(format_iso_ms(i64::MAX), "9999-12-31T23:59:59.999Z");
        assert_eq!(format_iso_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    proptest! {
        #[test]
        fn iso_format_matches_the_time_crate(ms in any::<i64>(), near in -10_000_000_000_000i64..10_000_000_000_000) {
            prop_assert_eq!(format_iso_ms(ms), iso_by_time_crate(ms));
            prop_assert_eq!(format_iso_ms(near), iso_by_time_crate(near));
        }
    }

    #[test]
    fn default_is_real_with_zero_offset() {
        let clock = WorldClock::default();
        assert_eq!(clock.mode(), ClockMode::Real);
        let state = clock.snapshot();
        assert_eq!(state.offset_ms, 0);
        assert!((state.now_ms - system_now_ms()).abs() < SLACK_MS);
    }

    #[test]
    fn frozen_clock_moves_only_when_told() {
        let clock = WorldClock::frozen_at(1_767_225_600_000);
        assert_eq!(clock.mode(), ClockMode::Frozen);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(clock.now_ms(), 1_767_225_600_000);
        clock.advance(72 * HOUR);
        assert_eq!(clock.now_ms(), 1_767_225_600_000 + 72 * 3_600_000);
        clock.advance(Duration::from_micros(1_999));
        assert_eq!(clock.now_ms(), 1_767_225_600_000 + 72 * 3_600_000 + 1);
        clock.set_ms(0);
        assert_eq!(clock.now_ms(), 0);
        assert_eq!(clock.mode(), ClockMode::Frozen);
        clock.set_ms(-1);
        assert_eq!(clock.now_iso(), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn real_clock_runs_with_offset() {
        let clock = WorldClock::real();
        let before = clock.now_ms();
        clock.advance(HOUR);
        let after = clock.now_ms();
        assert!(after >= before + 3_600_000 && after < before + 3_600_000 + SLACK_MS);
        assert!((clock.snapshot().offset_ms - 3_600_000).abs() < SLACK_MS);

        clock.set_ms(1_767_225_600_000);
        assert_eq!(clock.mode(), ClockMode::Real);
        let now = clock.now_ms();
        assert!((1_767_225_600_000..1_767_225_600_000 + SLACK_MS).contains(&now));
        std::thread::sleep(Duration::from_millis(20));
        assert!(clock.now_ms() >= 1_767_225_600_000 + 20, "a real clock keeps running after set_ms");
    }

    #[test]
    fn switching_modes_keeps_the_instant() {
        let clock = WorldClock::real();
        clock.set_ms(1_767_225_600_000);
        clock.freeze();
        assert_eq!(clock.mode(), ClockMode::Frozen);
        let frozen = clock.now_ms();
        assert!((1_767_225_600_000..1_767_225_600_000 + SLACK_MS).contains(&frozen));
        clock.freeze();
        assert_eq!(clock.now_ms(), frozen);

        clock.follow_real();
        assert_eq!(clock.mode(), ClockMode::Real);
        let running = clock.now_ms();
        assert!((frozen..frozen + SLACK_MS).contains(&running));
        clock.follow_real();
        assert!((frozen..frozen + SLACK_MS).contains(&clock.now_ms()));
    }

    #[test]
    fn clones_share_one_clock() {
        let clock = WorldClock::frozen_at(0);
        let other = clock.clone();
        other.advance(Duration::from_secs(1));
        assert_eq!(clock.now_ms(), 1_000);
    }

    #[test]
    fn extremes_saturate_instead_of_overflowing() {
        let clock = WorldClock::frozen_at(i64::MAX);
        clock.advance(Duration::MAX);
        assert_eq!(clock.now_ms(), STORED_MAX);
        assert_eq!(clock.now_iso(), "9999-12-31T23:59:59.999Z");
        clock.set_ms(i64::MIN);
        assert_eq!(clock.now_ms(), STORED_MIN);
        assert_eq!(clock.mode(), ClockMode::Frozen);
        clock.follow_real();
        clock.set_ms(i64::MAX);
        assert!(clock.now_ms() > ISO_MAX_MS);
        assert_eq!(clock.snapshot().now, "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn snapshot_serializes_as_the_control_api_shows_it() {
        let clock = WorldClock::frozen_at(1_767_225_600_123);
        let mut json = serde_json::to_value(clock.snapshot()).expect("ClockState serializes");
        let offset = json["offset_ms"].as_i64();
        assert!(offset.is_some());
        json["offset_ms"] = serde_json::Value::from(0);
        assert_eq!(
            json,
            serde_json::json!({
                "now_ms": 1_767_225_600_123_i64,
                "now": "2026-01-01T00:00:00.123Z",
                "mode": "frozen",
                "offset_ms": 0,
            })
        );
    }

    #[test]
    fn format_examples() {
        assert_eq!(format_iso_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_iso_ms(1_767_225_600_123), "2026-01-01T00:00:00.123Z");
        assert_eq!(format_iso_ms(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(format_iso_ms(ISO_MIN_MS), "0000-01-01T00:00:00.000Z");
        assert_eq!(format_iso_ms(ISO_MAX_MS), "9999-12-31T23:59:59.999Z");
        assert_eq!(format_iso_ms(i64::MIN), "0000-01-01T00:00:00.000Z");
        assert_eq!(format_iso_ms(i64::MAX), "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn parse_accepts_rfc3339() {
        let ok = |s: &str| parse_iso(s).ok();
        assert_eq!(ok("2026-01-01T00:00:00.123Z"), Some(1_767_225_600_123));
        assert_eq!(ok("2026-01-01T00:00:00Z"), Some(1_767_225_600_000));
        assert_eq!(ok("2026-01-01T03:00:00+03:00"), Some(1_767_225_600_000));
        assert_eq!(ok("2025-12-31T21:00:00.5-03:00"), Some(1_767_225_600_500));
        assert_eq!(ok("2026-01-01T00:00:00.123456789Z"), Some(1_767_225_600_123));
        assert_eq!(ok("1969-12-31T23:59:59.9995Z"), Some(-1));
    }

    #[test]
    fn parse_rejects_other_text() {
        for bad in ["", "2026-01-01", "2026-01-01 00:00:00", "2026-13-01T00:00:00Z", "1767225600123"] {
            let err = parse_iso(bad);
            assert!(matches!(err, Err(ClockError::NotRfc3339 { .. })), "{bad:?} gave {err:?}");
        }
    }

    proptest! {
        #[test]
        fn format_never_panics_and_has_the_fixed_shape(ms in any::<i64>()) {
            let s = format_iso_ms(ms);
            prop_assert_eq!(s.len(), 24);
            prop_assert!(s.ends_with('Z'));
            prop_assert_eq!(&s[10..11], "T");
            prop_assert_eq!(&s[19..20], ".");
        }

        #[test]
        fn parse_inverts_format(ms in ISO_MIN_MS..=ISO_MAX_MS) {
            prop_assert_eq!(parse_iso(&format_iso_ms(ms)).ok(), Some(ms));
        }
    }
}
