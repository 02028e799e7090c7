//! Fault kind `latency`: delay the answer by a fixed time or by a time drawn from a distribution.
//!
//! Owns the [`Latency`] configuration, its wire shape and the sampling. Draws come from the rule's own
//! seeded generator, so a run is reproducible. Latency never chooses an [`Action`](super::Action): the
//! delays of every latency rule that fires on a call add up, and the call then gets the action of the
//! first non-latency rule (or a normal answer).
//!
//! Server contract: wait [`Decision::delay`](super::Decision::delay) after reading the request and before
//! acting (answering, resetting, dripping…).
//!
//! Wire shape (inside a `fault` table with `kind = "latency"`):
//!
//! ```toml
//! fixed_ms = 200                                              # fixed
//! # distribution = "uniform"     min_ms = 40    max_ms = 120   # uniform in [min, max)
//! # distribution = "normal"      mean_ms = 80   stddev_ms = 20 # normal, negative draws clamp to 0
//! # distribution = "exponential" mean_ms = 80                  # exponential with that mean
//! ```

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::FaultError;
use super::kind::{Effect, Fault};

/// A delay added before the server acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "LatencyFields", into = "LatencyFields")]
pub enum Latency {
    /// Always `fixed_ms`.
    Fixed {
        /// Delay in ms.
        fixed_ms: u64,
    },
    /// Uniform in `[min_ms, max_ms)` (exactly `min_ms` when both are equal).
    Uniform {
        /// Lower bound, ms.
        min_ms: u64,
        /// Upper bound, ms.
        max_ms: u64,
    },
    /// Normal with this mean and standard deviation; negative draws become 0.
    Normal {
        /// Mean, ms.
        mean_ms: u64,
        /// Standard deviation, ms.
        stddev_ms: u64,
    },
    /// Exponential with this mean (a long tail of slow answers).
    Exponential {
        /// Mean, ms.
        mean_ms: u64,
    },
}

impl Latency {
    /// A fixed delay.
    pub const fn fixed(ms: u64) -> Self {
        Latency::Fixed { fixed_ms: ms }
    }

    /// A delay uniform in `[min_ms, max_ms)`.
    pub const fn uniform(min_ms: u64, max_ms: u64) -> Self {
        Latency::Uniform { min_ms, max_ms }
    }

    /// A normally distributed delay, clamped at 0.
    pub const fn normal(mean_ms: u64, stddev_ms: u64) -> Self {
        Latency::Normal { mean_ms, stddev_ms }
    }

    /// An exponentially distributed delay.
    pub const fn exponential(mean_ms: u64) -> Self {
        Latency::Exponential { mean_ms }
    }

    /// One delay. `unit` returns uniform draws in `[0, 1)`; it is not called for a fixed delay.
    pub(super) fn sample(&self, unit: &mut impl FnMut() -> f64) -> Duration {
        let ms = match *self {
            Latency::Fixed { fixed_ms } => return Duration::from_millis(fixed_ms),
            Latency::Uniform { min_ms, max_ms } => {
                min_ms as f64 + unit() * max_ms.saturating_sub(min_ms) as f64
            }
            Latency::Normal { mean_ms, stddev_ms } => {
                // Box–Muller; 1 − u is in (0, 1], so the logarithm is finite.
                let radius = (-2.0 * (1.0 - unit()).ln()).sqrt();
                let angle = std::f64::consts::TAU * unit();
                mean_ms as f64 + stddev_ms as f64 * radius * angle.cos()
            }
            Latency::Exponential { mean_ms } => -(mean_ms as f64) * (1.0 - unit()).ln(),
        };
        // `as` saturates: negative and NaN become 0, huge values become u64::MAX.
        Duration::from_micros((ms * 1000.0) as u64)
    }
}

impl Fault for Latency {
    fn validate(&self) -> Result<(), FaultError> {
        match *self {
            Latency::Uniform { min_ms, max_ms } if min_ms > max_ms => {
                Err(FaultError::UniformRange { min_ms, max_ms })
            }
            _ => Ok(()),
        }
    }

    fn effect(&self) -> Result<Effect, FaultError> {
        Ok(Effect::Delay(*self))
    }

    fn label(&self) -> String {
        match *self {
            Latency::Fixed { fixed_ms } => format!("latency {fixed_ms} ms"),
            Latency::Uniform { min_ms, max_ms } => format!("latency uniform {min_ms}..{max_ms} ms"),
            Latency::Normal { mean_ms, stddev_ms } => format!("latency normal {mean_ms}±{stddev_ms} ms"),
            Latency::Exponential { mean_ms } => format!("latency exponential mean {mean_ms} ms"),
        }
    }
}

/// The distributions, as named on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Distribution {
    Fixed,
    Uniform,
    Normal,
    Exponential,
}

impl Distribution {
    fn name(self) -> &'static str {
        match self {
            Distribution::Fixed => "fixed",
            Distribution::Uniform => "uniform",
            Distribution::Normal => "normal",
            Distribution::Exponential => "exponential",
        }
    }
}

/// The flat wire form: `distribution` (default `fixed`) and the fields it needs, nothing else.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LatencyFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    distribution: Option<Distribution>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fixed_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    min_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mean_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stddev_ms: Option<u64>,
}

impl TryFrom<LatencyFields> for Latency {
    type Error = String;

    fn try_from(fields: LatencyFields) -> Result<Self, String> {
        let distribution = fields.distribution.unwrap_or(Distribution::Fixed);
        let given = [
            ("fixed_ms", fields.fixed_ms),
            ("min_ms", fields.min_ms),
            ("max_ms", fields.max_ms),
            ("mean_ms", fields.mean_ms),
            ("stddev_ms", fields.stddev_ms),
        ];
        let needed: &[&str] = match distribution {
            Distribution::Fixed => &["fixed_ms"],
            Distribution::Uniform => &["min_ms", "max_ms"],
            Distribution::Normal => &["mean_ms", "stddev_ms"],
            Distribution::Exponential => &["mean_ms"],
        };
        let mut values = [0u64; 2];
        let mut found = 0;
        for (name, value) in given {
            match (needed.contains(&name), value) {
                (true, Some(value)) => {
                    values[found] = value;
                    found += 1;
                }
                (true, None) => {
                    return Err(format!("latency ({}) needs {}", distribution.name(), needed.join(" and ")))
                }
                (false, Some(_)) => {
                    return Err(format!("latency ({}) does not take {name}", distribution.name()));
                }
                (false, None) => {}
            }
        }
        Ok(match distribution {
            Distribution::Fixed => Latency::fixed(values[0]),
            Distribution::Uniform => Latency::uniform(values[0], values[1]),
            Distribution::Normal => Latency::normal(values[0], values[1]),
            Distribution::Exponential => Latency::exponential(values[0]),
        })
    }
}

impl From<Latency> for LatencyFields {
    fn from(latency: Latency) -> Self {
        match latency {
            Latency::Fixed { fixed_ms } => LatencyFields { fixed_ms: Some(fixed_ms), ..Default::default() },
            Latency::Uniform { min_ms, max_ms } => LatencyFields {
                distribution: Some(Distribution::Uniform),
                min_ms: Some(min_ms),
                max_ms: Some(max_ms),
                ..Default::default()
            },
            Latency::Normal { mean_ms, stddev_ms } => LatencyFields {
                distribution: Some(Distribution::Normal),
                mean_ms: Some(mean_ms),
                stddev_ms: Some(stddev_ms),
                ..Default::default()
            },
            Latency::Exponential { mean_ms } => LatencyFields {
                distribution: Some(Distribution::Exponential),
                mean_ms: Some(mean_ms),
                ..Default::default()
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draws(latency: Latency, n: usize) -> Vec<f64> {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut unit = || rng.random::<f64>();
        (0..n).map(|_| latency.sample(&mut unit).as_secs_f64() * 1000.0).collect()
    }

    fn mean(values: &[f64]) -> f64 {
        values.iter().sum::<f64>() / values.len() as f64
    }

    #[test]
    fn fixed_is_exact_and_draws_nothing() {
        let mut unit = || -> f64 { panic!("a fixed latency must not draw") };
        assert_eq!(Latency::fixed(250).sample(&mut unit), Duration::from_millis(250));
    }

    #[test]
    fn uniform_stays_in_range() {
        let values = draws(Latency::uniform(40, 120), 10_000);
        assert!(values.iter().all(|v| (40.0..120.0).contains(v)));
        assert!((mean(&values) - 80.0).abs() < 2.0);
        assert_eq!(draws(Latency::uniform(7, 7), 10), vec![7.0; 10]);
    }

    #[test]
    fn normal_is_clamped_and_centred() {
        let values = draws(Latency::normal(100, 20), 20_000);
        assert!(values.iter().all(|v| *v >= 0.0));
        assert!((mean(&values) - 100.0).abs() < 1.5);
        let clamped = draws(Latency::normal(0, 50), 1000);
        assert!(clamped.iter().all(|v| *v >= 0.0));
        assert!(clamped.contains(&0.0));
    }

    #[test]
    fn exponential_has_its_mean() {
        let values = draws(Latency::exponential(80), 20_000);
        assert!(values.iter().all(|v| *v >= 0.0));
        assert!((mean(&values) - 80.0).abs() < 3.0);
    }

    #[test]
    fn wire_shape_needs_exactly_the_fields_of_its_distribution() {
        let parse = |text: &str| serde_json::from_str::<Latency>(text);
        assert_eq!(parse(r#"{"fixed_ms":5}"#).ok(), Some(Latency::fixed(5)));
        assert_eq!(
            parse(r#"{"distribution":"uniform","min_ms":1,"max_ms":2}"#).ok(),
            Some(Latency::uniform(1, 2))
        );
        assert_eq!(
            parse(r#"{"distribution":"exponential","mean_ms":3}"#).ok(),
            Some(Latency::exponential(3))
        );
        assert!(parse(r#"{"distribution":"uniform","min_ms":1}"#).is_err());
        assert!(parse(r#"{"fixed_ms":5,"mean_ms":1}"#).is_err());
        assert!(parse(r#"{"fixed_ms":5,"jitter_ms":1}"#).is_err());
        assert!(parse(r#"{}"#).is_err());
    }

    #[test]
    fn inverted_uniform_range_is_refused() {
        assert_eq!(Latency::uniform(9, 3).validate(), Err(FaultError::UniformRange { min_ms: 9, max_ms: 3 }));
    }
}
