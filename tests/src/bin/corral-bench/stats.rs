//! Latency recording (HDR histograms, microseconds) and the summary a run prints, as a
//! table or as JSON.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::args::{Config, Target, Workload};

/// Highest latency recorded exactly; slower operations are clamped to it.
const MAX_MICROS: u64 = 600_000_000;
/// Error messages kept per run, to show what failed.
const ERROR_SAMPLES: usize = 5;

/// What one task measured; merged into a [`Summary`] at the end.
pub struct Recorder {
    latency: Histogram<u64>,
    errors: u64,
    samples: BTreeMap<String, u64>,
}

impl Recorder {
    pub fn new() -> Self {
        Recorder {
            latency: Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("valid bounds"),
            errors: 0,
            samples: BTreeMap::new(),
        }
    }

    /// Records one successful operation that took `took`.
    pub fn ok(&mut self, took: Duration) {
        let micros = (took.as_micros() as u64).clamp(1, MAX_MICROS);
        self.latency.saturating_record(micros);
    }

    /// Records one failed operation.
    pub fn error(&mut self, message: impl AsRef<str>) {
        self.errors_n(1, message);
    }

    /// Records `n` failures of one kind (e.g. events that never arrived).
    pub fn errors_n(&mut self, n: u64, message: impl AsRef<str>) {
        if n == 0 {
            return;
        }
        self.errors += n;
        let message = message.as_ref();
        // Keep the first line, cut long messages; count each distinct one.
        let short: String = message
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(160)
            .collect();
        if let Some(count) = self.samples.get_mut(&short) {
            *count += n;
        } else if self.samples.len() < ERROR_SAMPLES {
            self.samples.insert(short, n);
        }
    }

    pub fn merge(&mut self, other: Recorder) {
        self.latency.add(&other.latency).expect("same bounds");
        self.errors += other.errors;
        for (message, n) in other.samples {
            if let Some(count) = self.samples.get_mut(&message) {
                *count += n;
            } else if self.samples.len() < ERROR_SAMPLES {
                self.samples.insert(message, n);
            }
        }
    }

    #[cfg(test)]
    pub fn count(&self) -> u64 {
        self.latency.len()
    }

    pub fn errors(&self) -> u64 {
        self.errors
    }
}

/// Latency percentiles, milliseconds.
#[derive(Debug, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
}

/// The result of one run, as printed and as written in JSON.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub target: Target,
    pub workload: String,
    /// The workload's own settings.
    pub settings: Workload,
    pub endpoints: Vec<String>,
    pub clients: usize,
    pub conns: usize,
    pub value_size: usize,
    pub key_space: u64,
    /// Measured seconds.
    pub seconds: f64,
    /// Successful operations (for watch: events delivered) in the measured window.
    pub ops: u64,
    /// Successful operations per second.
    pub throughput: f64,
    /// What is timed: e.g. "put", "lock+unlock", "put→event".
    pub measures: String,
    pub latency_ms: Latency,
    pub errors: u64,
    /// Up to five distinct error messages with their counts.
    pub error_samples: BTreeMap<String, u64>,
    /// Workload-specific figures (e.g. puts issued by the watch writers).
    pub extra: BTreeMap<String, f64>,
}

impl Summary {
    pub fn new(
        config: &Config,
        measures: &str,
        recorder: Recorder,
        elapsed: Duration,
        extra: BTreeMap<String, f64>,
    ) -> Summary {
        let h = &recorder.latency;
        let ms = |micros: u64| micros as f64 / 1000.0;
        let at = |q: f64| {
            if h.is_empty() {
                0.0
            } else {
                ms(h.value_at_quantile(q))
            }
        };
        let seconds = elapsed.as_secs_f64();
        Summary {
            target: config.target,
            workload: config.workload.label(),
            settings: config.workload,
            endpoints: config.endpoints.clone(),
            clients: config.clients,
            conns: config.conns,
            value_size: config.value_size,
            key_space: config.key_space,
            seconds,
            ops: h.len(),
            throughput: if seconds > 0.0 {
                h.len() as f64 / seconds
            } else {
                0.0
            },
            measures: measures.to_string(),
            latency_ms: Latency {
                p50: at(0.50),
                p95: at(0.95),
                p99: at(0.99),
                p999: at(0.999),
                max: if h.is_empty() { 0.0 } else { ms(h.max()) },
                mean: if h.is_empty() { 0.0 } else { h.mean() / 1000.0 },
            },
            errors: recorder.errors,
            error_samples: recorder.samples,
            extra,
        }
    }

    /// A small aligned table: one header line, one row, then errors and extras if any.
    pub fn table(&self) -> String {
        let l = &self.latency_ms;
        let header = [
            "TARGET", "WORKLOAD", "CLIENTS", "CONNS", "SECONDS", "OPS", "OPS/S", "P50 MS",
            "P95 MS", "P99 MS", "P99.9 MS", "MAX MS", "ERRORS",
        ];
        let row = [
            self.target.name(),
            self.workload.clone(),
            self.clients.to_string(),
            self.conns.to_string(),
            format!("{:.1}", self.seconds),
            self.ops.to_string(),
            format!("{:.0}", self.throughput),
            format!("{:.3}", l.p50),
            format!("{:.3}", l.p95),
            format!("{:.3}", l.p99),
            format!("{:.3}", l.p999),
            format!("{:.3}", l.max),
            self.errors.to_string(),
        ];
        let widths: Vec<usize> = header
            .iter()
            .zip(&row)
            .map(|(h, r)| h.len().max(r.chars().count()))
            .collect();
        let line = |cells: Vec<String>| {
            cells
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        };
        let mut out = line(header.iter().map(|s| s.to_string()).collect());
        out.push('\n');
        out.push_str(&line(row.to_vec()));
        out.push('\n');
        out.push_str(&format!("latency measures: {}\n", self.measures));
        for (k, v) in &self.extra {
            out.push_str(&format!("{k}: {v}\n"));
        }
        for (message, n) in &self.error_samples {
            out.push_str(&format!("error ×{n}: {message}\n"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorder_merges_latencies_and_error_samples() {
        let mut a = Recorder::new();
        let mut b = Recorder::new();
        for ms in 1..=100 {
            a.ok(Duration::from_millis(ms));
        }
        b.ok(Duration::from_secs(2));
        b.error("timed out\nwith details");
        b.errors_n(3, "timed out");
        a.merge(b);
        assert_eq!(a.count(), 101);
        assert_eq!(a.errors, 4);
        assert_eq!(a.samples.get("timed out"), Some(&4));
        let p50 = a.latency.value_at_quantile(0.5);
        assert!((50_000..=51_100).contains(&p50), "{p50}");
        assert!(a.latency.max() >= 2_000_000 - 2_000);
    }
}
