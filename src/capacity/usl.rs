//! The Universal Scalability Law fitted to closed-model steps: concurrency N against
//! throughput X(N) = λN / (1 + σ(N − 1) + κN(N − 1)), with σ the contention and κ the
//! coherency coefficient.
//!
//! The fit starts from the exact least-squares solution of the linear form
//! N/X = a + b(N − 1) + cN(N − 1), then refines λ, σ and κ by Levenberg–Marquardt on the
//! throughput residuals themselves, keeping 0 ≤ σ ≤ 1 and κ ≥ 0. It says plainly when the
//! curve does not fit.

use crate::report::format;
use crate::results::{CapacityStep, UslFit};

/// Distinct concurrencies a fit needs: three parameters always fit three points.
pub const MIN_POINTS: usize = 4;
/// At or above this R² (and within [`MAX_RESIDUAL`]) the fit is good enough to project from.
const GOOD_R_SQUARED: f64 = 0.9;
const MAX_RESIDUAL: f64 = 0.2;
const ITERATIONS: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq)]
struct Params {
    lambda: f64,
    sigma: f64,
    kappa: f64,
}

impl Params {
    fn at(&self, n: f64) -> f64 {
        self.lambda * n / self.denominator(n)
    }

    fn denominator(&self, n: f64) -> f64 {
        1.0 + self.sigma * (n - 1.0) + self.kappa * n * (n - 1.0)
    }

    fn bounded(self) -> Params {
        Params {
            lambda: self.lambda.max(f64::MIN_POSITIVE),
            sigma: self.sigma.clamp(0.0, 1.0),
            kappa: self.kappa.max(0.0),
        }
    }
}

/// The fit over a search's judged steps: in-flight limit against throughput, leaving out
/// warmup steps and steps whose run failed.
pub fn fit_steps(steps: &[CapacityStep]) -> Option<UslFit> {
    let points: Vec<(f64, f64)> = steps
        .iter()
        .filter(|s| s.phase != "warm" && s.verdict != "run_failed")
        .map(|s| (s.in_flight_limit as f64, s.throughput_ops_per_s))
        .collect();
    fit(&points)
}

/// The fit over `(N, X)` points; `None` with fewer than [`MIN_POINTS`] distinct N.
pub fn fit(points: &[(f64, f64)]) -> Option<UslFit> {
    let points: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|&(n, x)| n >= 1.0 && x > 0.0 && x.is_finite())
        .collect();
    let mut distinct: Vec<f64> = points.iter().map(|p| p.0).collect();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    if distinct.len() < MIN_POINTS {
        return None;
    }
    let start = linear_start(&points);
    let params = refine(&points, start);
    Some(describe(&points, params, distinct.len()))
}

/// Least squares on N/X = a + b(N − 1) + cN(N − 1): a = 1/λ, b = σ/λ, c = κ/λ.
fn linear_start(points: &[(f64, f64)]) -> Params {
    let rows: Vec<([f64; 3], f64)> = points
        .iter()
        .map(|&(n, x)| ([1.0, n - 1.0, n * (n - 1.0)], n / x))
        .collect();
    let mut ata = [[0.0; 3]; 3];
    let mut aty = [0.0; 3];
    for (row, y) in &rows {
        for i in 0..3 {
            aty[i] += row[i] * y;
            for j in 0..3 {
                ata[i][j] += row[i] * row[j];
            }
        }
    }
    let best_per_unit = points.iter().map(|&(n, x)| x / n).fold(0.0, f64::max);
    match solve(ata, aty) {
        Some([a, b, c]) if a > 0.0 => Params {
            lambda: 1.0 / a,
            sigma: b / a,
            kappa: c / a,
        }
        .bounded(),
        _ => Params {
            lambda: best_per_unit,
            sigma: 0.0,
            kappa: 0.0,
        },
    }
}

fn sse(points: &[(f64, f64)], p: &Params) -> f64 {
    points.iter().map(|&(n, x)| (x - p.at(n)).powi(2)).sum()
}

/// Levenberg–Marquardt on the throughput residuals, within the coefficients' bounds.
fn refine(points: &[(f64, f64)], start: Params) -> Params {
    let mut p = start;
    let mut error = sse(points, &p);
    let mut damping = 1e-3;
    for _ in 0..ITERATIONS {
        let (jtj, jtr) = normal_equations(points, &p);
        let mut damped = jtj;
        (0..3).for_each(|i| damped[i][i] += damping * jtj[i][i].max(1e-12));
        let Some(step) = solve(damped, jtr) else {
            break;
        };
        let tried = Params {
            lambda: p.lambda + step[0],
            sigma: p.sigma + step[1],
            kappa: p.kappa + step[2],
        }
        .bounded();
        let tried_error = sse(points, &tried);
        if tried_error < error {
            let gain = error - tried_error;
            (p, error) = (tried, tried_error);
            damping = (damping / 10.0).max(1e-12);
            if gain <= 1e-12 * error.max(1e-300) {
                break;
            }
        } else {
            damping *= 10.0;
            if damping > 1e12 {
                break;
            }
        }
    }
    p
}

/// JᵀJ and Jᵀr for the residuals r = X − f(N) over (λ, σ, κ).
fn normal_equations(points: &[(f64, f64)], p: &Params) -> ([[f64; 3]; 3], [f64; 3]) {
    let mut jtj = [[0.0; 3]; 3];
    let mut jtr = [0.0; 3];
    for &(n, x) in points {
        let d = p.denominator(n);
        let grad = [
            n / d,
            -p.lambda * n * (n - 1.0) / (d * d),
            -p.lambda * n * n * (n - 1.0) / (d * d),
        ];
        let r = x - p.at(n);
        for i in 0..3 {
            jtr[i] += grad[i] * r;
            for j in 0..3 {
                jtj[i][j] += grad[i] * grad[j];
            }
        }
    }
    (jtj, jtr)
}

/// Gaussian elimination with partial pivoting; `None` for a singular system.
fn solve(mut a: [[f64; 3]; 3], mut b: [f64; 3]) -> Option<[f64; 3]> {
    let scale = a.iter().flatten().fold(0.0f64, |m, v| m.max(v.abs()));
    for col in 0..3 {
        let pivot = (col..3).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() <= 1e-15 * scale.max(f64::MIN_POSITIVE) {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        for row in col + 1..3 {
            let f = a[row][col] / a[col][col];
            let pivot_row = a[col];
            for (cell, above) in a[row].iter_mut().zip(pivot_row).skip(col) {
                *cell -= f * above;
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = [0.0; 3];
    for row in (0..3).rev() {
        let tail: f64 = (row + 1..3).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - tail) / a[row][row];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

fn describe(points: &[(f64, f64)], p: Params, distinct: usize) -> UslFit {
    let mean = points.iter().map(|q| q.1).sum::<f64>() / points.len() as f64;
    let total: f64 = points.iter().map(|q| (q.1 - mean).powi(2)).sum();
    let r_squared = if total > 0.0 {
        1.0 - sse(points, &p) / total
    } else {
        0.0
    };
    let max_relative_residual = points
        .iter()
        .map(|&(n, x)| (x - p.at(n)).abs() / x)
        .fold(0.0, f64::max);
    let peak_concurrency = (p.kappa > 0.0).then(|| ((1.0 - p.sigma) / p.kappa).sqrt().max(1.0));
    let peak_ops_per_s = peak_concurrency.map(|n| p.at(n));
    let good = r_squared >= GOOD_R_SQUARED && max_relative_residual <= MAX_RESIDUAL;
    let mut fit = UslFit {
        points: distinct,
        lambda: p.lambda,
        sigma: p.sigma,
        kappa: p.kappa,
        r_squared,
        max_relative_residual,
        peak_concurrency,
        peak_ops_per_s,
        good,
        statement: String::new(),
    };
    fit.statement = statement(&fit);
    fit
}

fn statement(fit: &UslFit) -> String {
    let quality = format!(
        "R² {:.3}, worst point off by {:.0} %",
        fit.r_squared,
        fit.max_relative_residual * 100.0
    );
    if !fit.good {
        return format!(
            "the USL fits these {} steps poorly ({quality}): throughput against concurrency \
             is not USL-shaped here, so no peak is projected",
            fit.points
        );
    }
    let coefficients = format!(
        "contention σ = {:.4}, coherency κ = {:.6}, λ = {}/s per unit of concurrency",
        fit.sigma,
        fit.kappa,
        format::count(fit.lambda)
    );
    let peak = match (fit.peak_concurrency, fit.peak_ops_per_s) {
        (Some(n), Some(x)) => format!(
            "throughput peaks at about {n:.0} in flight, {}/s",
            format::count(x)
        ),
        _ if fit.sigma > 0.0 => format!(
            "no peak (κ = 0): throughput approaches λ/σ = {}/s",
            format::count(fit.lambda / fit.sigma)
        ),
        _ => "no peak (σ = κ = 0): throughput rises linearly".to_owned(),
    };
    format!(
        "USL fit over {} steps ({quality}): {coefficients}; {peak}",
        fit.points
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usl(lambda: f64, sigma: f64, kappa: f64) -> impl Fn(f64) -> f64 {
        move |n| {
            Params {
                lambda,
                sigma,
                kappa,
            }
            .at(n)
        }
    }

    const CONCURRENCY: [f64; 8] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 48.0, 64.0];

    #[test]
    fn recovers_known_coefficients_from_exact_points() {
        let x = usl(1000.0, 0.05, 0.002);
        let points: Vec<(f64, f64)> = CONCURRENCY.iter().map(|&n| (n, x(n))).collect();
        let fit = fit(&points).unwrap();
        assert!((fit.lambda - 1000.0).abs() < 1e-3, "{fit:?}");
        assert!((fit.sigma - 0.05).abs() < 1e-6, "{fit:?}");
        assert!((fit.kappa - 0.002).abs() < 1e-8, "{fit:?}");
        assert!(fit.good && fit.r_squared > 0.9999, "{fit:?}");
        // √((1 − σ) / κ) = √475.
        let peak = fit.peak_concurrency.unwrap();
        assert!((peak - 475f64.sqrt()).abs() < 1e-3, "{peak}");
        assert!(
            fit.statement.starts_with("USL fit over 8 steps"),
            "{}",
            fit.statement
        );
    }

    #[test]
    fn recovers_coefficients_through_measurement_noise() {
        let x = usl(500.0, 0.1, 0.0005);
        // ±3 % in a fixed pattern, as steps of a real run scatter.
        let noise = [1.03, 0.97, 1.02, 0.98, 1.01, 0.99, 1.03, 0.97];
        let points: Vec<(f64, f64)> = CONCURRENCY
            .iter()
            .zip(noise)
            .map(|(&n, e)| (n, x(n) * e))
            .collect();
        let fit = fit(&points).unwrap();
        assert!((fit.lambda - 500.0).abs() / 500.0 < 0.1, "{fit:?}");
        assert!((fit.sigma - 0.1).abs() < 0.03, "{fit:?}");
        assert!((fit.kappa - 0.0005).abs() / 0.0005 < 0.5, "{fit:?}");
        assert!(fit.good, "{fit:?}");
    }

    #[test]
    fn reports_a_poor_fit_on_points_that_are_not_usl_shaped() {
        // Throughput that falls, then climbs again: no USL curve does that.
        let points = [
            (1.0, 900.0),
            (2.0, 300.0),
            (4.0, 150.0),
            (8.0, 400.0),
            (16.0, 1200.0),
            (32.0, 2600.0),
        ];
        let fit = fit(&points).unwrap();
        assert!(!fit.good, "{fit:?}");
        assert!(fit.statement.contains("poorly"), "{}", fit.statement);
    }

    #[test]
    fn needs_four_distinct_concurrencies() {
        let points = [(1.0, 100.0), (2.0, 190.0), (4.0, 350.0), (4.0, 352.0)];
        assert!(fit(&points).is_none());
    }
}
