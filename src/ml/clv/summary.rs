//! The summary of one customer's orders as the `lifetimes` package computes it
//! (summary_data_from_transaction_data, freq 'D' with freq_multiplier 1, 7 or 30):
//!
//! - orders after the calibration end are left out; orders on one day are one purchase whose
//!   amount is the day's sum;
//! - frequency: purchase days after the first (repeat purchases);
//! - recency: last purchase day - first, in units;
//! - t: calibration end - first purchase day, in units;
//! - monetary_value: the mean amount of the repeat purchase days (0 without repeats).
//!
//! The state keeps each purchase day's sum (memory: distinct purchase days); two states of one
//! customer merge by adding per day, so the aggregate is order-independent and parallel.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Days per unit.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub enum Unit {
    Day,
    Week,
    Month,
}

impl Unit {
    pub fn parse(s: &str) -> Option<Unit> {
        match s {
            "day" => Some(Unit::Day),
            "week" => Some(Unit::Week),
            "month" => Some(Unit::Month),
            _ => None,
        }
    }

    pub fn days(self) -> f64 {
        match self {
            Unit::Day => 1.0,
            Unit::Week => 7.0,
            Unit::Month => 30.0,
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Purchases {
    /// Day number (any epoch) of the calibration end.
    pub calibration_end: i32,
    pub unit: Unit,
    /// Purchase day -> the day's total amount, for days up to the calibration end.
    pub days: BTreeMap<i32, f64>,
    /// Orders after the calibration end (left out).
    pub later: u64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClvStats {
    pub frequency: i32,
    pub recency: f64,
    pub t: f64,
    pub monetary_value: f64,
}

impl Purchases {
    pub fn new(calibration_end: i32, unit: Unit) -> Purchases {
        Purchases {
            calibration_end,
            unit,
            days: BTreeMap::new(),
            later: 0,
        }
    }

    /// Adds an order; false when its day's total is no longer a finite float8.
    pub fn add(&mut self, day: i32, amount: f64) -> bool {
        if day > self.calibration_end {
            self.later += 1;
            return true;
        }
        let total = self.days.entry(day).or_insert(0.0);
        *total += amount;
        total.is_finite()
    }

    /// Adds another state of the same customer; false when a day's total is no longer finite.
    pub fn merge(&mut self, other: Purchases) -> bool {
        self.later += other.later;
        let mut finite = true;
        for (d, a) in other.days {
            let total = self.days.entry(d).or_insert(0.0);
            *total += a;
            finite &= total.is_finite();
        }
        finite
    }

    /// None when no purchase falls on or before the calibration end (lifetimes leaves such a
    /// customer out of the summary).
    pub fn stats(&self) -> Option<ClvStats> {
        let (&first, first_amount) = self.days.iter().next()?;
        let &last = self.days.keys().next_back()?;
        let repeats = self.days.len() - 1;
        let total: f64 = self.days.values().sum();
        let u = self.unit.days();
        Some(ClvStats {
            frequency: repeats as i32,
            recency: (last - first) as f64 / u,
            t: (self.calibration_end - first) as f64 / u,
            monetary_value: if repeats == 0 {
                0.0
            } else {
                (total - first_amount) / repeats as f64
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_day_orders_are_one_purchase_and_later_ones_are_left_out() {
        let mut p = Purchases::new(100, Unit::Week);
        for (d, a) in [
            (30, 10.0),
            (30, 5.0),
            (44, 20.0),
            (72, 7.0),
            (72, 3.0),
            (101, 99.0),
        ] {
            p.add(d, a);
        }
        let s = p.stats().unwrap();
        assert_eq!(s.frequency, 2);
        assert!((s.recency - 42.0 / 7.0).abs() < 1e-12);
        assert!((s.t - 70.0 / 7.0).abs() < 1e-12);
        assert!((s.monetary_value - 15.0).abs() < 1e-12);
        assert_eq!(p.later, 1);
        // split in any way and merged: the same
        let mut a = Purchases::new(100, Unit::Week);
        let mut b = Purchases::new(100, Unit::Week);
        for (i, (d, x)) in [
            (72, 3.0),
            (30, 10.0),
            (101, 99.0),
            (44, 20.0),
            (30, 5.0),
            (72, 7.0),
        ]
        .into_iter()
        .enumerate()
        {
            let into = if i % 2 == 0 { &mut a } else { &mut b };
            assert!(into.add(d, x));
        }
        assert!(a.merge(b));
        assert_eq!(a, p);
        assert_eq!(Purchases::new(5, Unit::Day).stats(), None);
        let mut one = Purchases::new(10, Unit::Month);
        assert!(one.add(10, 4.0));
        assert_eq!(
            one.stats().unwrap(),
            ClvStats {
                frequency: 0,
                recency: 0.0,
                t: 0.0,
                monetary_value: 0.0
            }
        );
    }
}
