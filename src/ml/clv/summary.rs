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
            self.later = self.later.saturating_add(1);
            return true;
        }
        let total = self.days.entry(day).or_insert(0.0);
        *total += amount;
        total.is_finite()
    }

    /// Adds another state of the same customer; false when a day's total is no longer finite.
    pub fn merge(&mut self, other: Purchases) -> bool {
        self.later = self.later.saturating_add(other.later);
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
            recency: (last as f64 - first as f64) / u,
            t: (self.calibration_end as f64 - first as f64) / u,
            monetary_value: if repeats == 0 {
                0.0
            } else {
                (total - first_amount) / repeats as f64
            },
        })
    }
}

/// The flat form `insight.clv_summary` changes in place row by row (a per-customer state must be
/// a few bytes, not a map: the aggregate runs once per customer): a 24-byte header
/// (calibration_end i32, unit u8, three zero bytes, later u64, n u32, cap u32) and `cap` slots of
/// (day i32, amount f64), the first `n` used, days strictly ascending; little-endian. A full
/// state grows into a new buffer of twice the slots.
pub mod flat {
    use super::{Purchases, Unit};

    pub const HEADER: usize = 24;
    pub const SLOT: usize = 12;

    #[derive(Clone, Copy, Debug, PartialEq)]
    pub struct Header {
        pub calibration_end: i32,
        pub unit: Unit,
        pub later: u64,
        pub n: usize,
        pub cap: usize,
    }

    fn unit_byte(u: Unit) -> u8 {
        match u {
            Unit::Day => 0,
            Unit::Week => 1,
            Unit::Month => 2,
        }
    }

    fn u32_at(b: &[u8], i: usize) -> u32 {
        u32::from_le_bytes(b[i..i + 4].try_into().unwrap())
    }

    /// The header of a flat state; None when the bytes cannot be one (length, counts, unit).
    pub fn header(b: &[u8]) -> Option<Header> {
        if b.len() < HEADER || b[5..8] != [0, 0, 0] {
            return None;
        }
        let unit = match b[4] {
            0 => Unit::Day,
            1 => Unit::Week,
            2 => Unit::Month,
            _ => return None,
        };
        let (n, cap) = (u32_at(b, 16) as usize, u32_at(b, 20) as usize);
        if n > cap || b.len() != HEADER + cap * SLOT {
            return None;
        }
        Some(Header {
            calibration_end: i32::from_le_bytes(b[0..4].try_into().unwrap()),
            unit,
            later: u64::from_le_bytes(b[8..16].try_into().unwrap()),
            n,
            cap,
        })
    }

    fn write_header(b: &mut [u8], h: &Header) {
        b[0..4].copy_from_slice(&h.calibration_end.to_le_bytes());
        b[4] = unit_byte(h.unit);
        b[5..8].fill(0);
        b[8..16].copy_from_slice(&h.later.to_le_bytes());
        b[16..20].copy_from_slice(&(h.n as u32).to_le_bytes());
        b[20..24].copy_from_slice(&(h.cap as u32).to_le_bytes());
    }

    fn day(b: &[u8], i: usize) -> i32 {
        i32::from_le_bytes(
            b[HEADER + i * SLOT..HEADER + i * SLOT + 4]
                .try_into()
                .unwrap(),
        )
    }

    fn amount(b: &[u8], i: usize) -> f64 {
        let at = HEADER + i * SLOT + 4;
        f64::from_le_bytes(b[at..at + 8].try_into().unwrap())
    }

    fn set_slot(b: &mut [u8], i: usize, d: i32, a: f64) {
        let at = HEADER + i * SLOT;
        b[at..at + 4].copy_from_slice(&d.to_le_bytes());
        b[at + 4..at + 12].copy_from_slice(&a.to_le_bytes());
    }

    /// An empty state with room for `cap` purchase days.
    pub fn new(calibration_end: i32, unit: Unit, cap: usize) -> Vec<u8> {
        let mut b = vec![0u8; HEADER + cap * SLOT];
        let h = Header {
            calibration_end,
            unit,
            later: 0,
            n: 0,
            cap,
        };
        write_header(&mut b, &h);
        b
    }

    pub enum Added {
        /// false when the day's total is no longer a finite float8
        Done(bool),
        /// a new purchase day and no free slot: grow, then add again
        Full,
    }

    /// Adds an order as Purchases::add does, in place. `b` must have a valid header.
    pub fn add(b: &mut [u8], d: i32, a: f64) -> Added {
        let mut h = header(b).expect("a checked state");
        if d > h.calibration_end {
            h.later = h.later.saturating_add(1);
            write_header(b, &h);
            return Added::Done(true);
        }
        let (mut lo, mut hi) = (0, h.n);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if day(b, mid) < d {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if lo < h.n && day(b, lo) == d {
            let total = amount(b, lo) + a;
            set_slot(b, lo, d, total);
            return Added::Done(total.is_finite());
        }
        if h.n == h.cap {
            return Added::Full;
        }
        b.copy_within(
            HEADER + lo * SLOT..HEADER + h.n * SLOT,
            HEADER + (lo + 1) * SLOT,
        );
        set_slot(b, lo, d, a);
        h.n += 1;
        write_header(b, &h);
        Added::Done(a.is_finite())
    }

    /// The same state with twice the slots (at least 4).
    pub fn grown(b: &[u8]) -> Vec<u8> {
        let mut h = header(b).expect("a checked state");
        let mut out = vec![0u8; HEADER + (h.cap * 2).max(4) * SLOT];
        out[HEADER..HEADER + h.n * SLOT].copy_from_slice(&b[HEADER..HEADER + h.n * SLOT]);
        h.cap = (h.cap * 2).max(4);
        write_header(&mut out, &h);
        out
    }

    /// The compact flat form of `p` (no free slots).
    pub fn from_purchases(p: &Purchases) -> Vec<u8> {
        let mut b = new(p.calibration_end, p.unit, p.days.len());
        for (i, (&d, &a)) in p.days.iter().enumerate() {
            set_slot(&mut b, i, d, a);
        }
        let mut h = header(&b).expect("just made");
        h.n = p.days.len();
        h.later = p.later;
        write_header(&mut b, &h);
        b
    }

    /// The state of flat bytes; None when they cannot be one a state reached (days not
    /// ascending or after the calibration end, amounts negative or not finite, more than
    /// `max_days` days).
    pub fn to_purchases(b: &[u8], max_days: usize) -> Option<Purchases> {
        let h = header(b)?;
        if h.n > max_days {
            return None;
        }
        let mut p = Purchases::new(h.calibration_end, h.unit);
        p.later = h.later;
        for i in 0..h.n {
            let (d, a) = (day(b, i), amount(b, i));
            if (i > 0 && d <= day(b, i - 1)) || d > h.calibration_end || !a.is_finite() || a < 0.0 {
                return None;
            }
            p.days.insert(d, a);
        }
        Some(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flat_form_adds_as_the_map_does_and_reads_back() {
        // orders in a scrambled order, repeats on some days, some after the end
        let mut p = Purchases::new(500, Unit::Month);
        let mut b = flat::new(500, Unit::Month, 0);
        for i in 0..3000i32 {
            let (d, a) = ((i * 7919) % 640, (i % 13) as f64 * 0.25);
            p.add(d, a);
            loop {
                match flat::add(&mut b, d, a) {
                    flat::Added::Done(finite) => {
                        assert!(finite);
                        break;
                    }
                    flat::Added::Full => b = flat::grown(&b),
                }
            }
        }
        let back = flat::to_purchases(&b, 36_600).unwrap();
        assert_eq!(back, p);
        assert_eq!(back.stats(), p.stats());
        assert_eq!(
            flat::to_purchases(&flat::from_purchases(&p), 36_600).unwrap(),
            p
        );
        // what it cannot have written is refused
        assert!(flat::to_purchases(&b, 10).is_none());
        let mut bad = flat::from_purchases(&p);
        bad[flat::HEADER..flat::HEADER + 4].copy_from_slice(&600i32.to_le_bytes());
        assert!(flat::to_purchases(&bad, 36_600).is_none());
        assert!(flat::header(&bad[..bad.len() - 1]).is_none());
    }

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
