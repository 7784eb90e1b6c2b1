//! RFM: recency, frequency and monetary value of a customer's orders up to a day, and the named
//! segments of the common RFM map.
//!
//! Money is summed exactly: amounts come as decimal text (PostgreSQL numeric) and are added as
//! integers at the largest scale seen, so the total equals SQL's sum(amount).

use serde::{Deserialize, Serialize};

/// An exact decimal: mantissa x 10^-scale.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Decimal {
    pub mantissa: i128,
    pub scale: u32,
}

/// The most digits after the point an amount may have (numeric allows more; money does not).
pub const MAX_SCALE: u32 = 12;

impl Decimal {
    /// Parses `[-]digits[.digits]` (numeric's text form); None for NaN, infinities, more than
    /// MAX_SCALE decimals or more than i128 holds.
    pub fn parse(s: &str) -> Option<Decimal> {
        let (neg, body) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        if int.is_empty() && frac.is_empty()
            || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
        {
            return None;
        }
        // trailing zeros kept (the sum has the largest scale of its terms, as SQL's
        // sum(numeric)) up to MAX_SCALE; beyond it only zeros may go
        let frac = if frac.len() as u32 > MAX_SCALE {
            frac.trim_end_matches('0')
        } else {
            frac
        };
        if frac.len() as u32 > MAX_SCALE {
            return None;
        }
        let mut m: i128 = 0;
        for b in int.bytes().chain(frac.bytes()) {
            m = m.checked_mul(10)?.checked_add((b - b'0') as i128)?;
        }
        Some(Decimal {
            mantissa: if neg { -m } else { m },
            scale: frac.len() as u32,
        })
    }

    fn rescaled(self, scale: u32) -> Option<i128> {
        self.mantissa
            .checked_mul(10i128.checked_pow(scale - self.scale)?)
    }

    pub fn checked_add(self, other: Decimal) -> Option<Decimal> {
        let scale = self.scale.max(other.scale);
        Some(Decimal {
            mantissa: self.rescaled(scale)?.checked_add(other.rescaled(scale)?)?,
            scale,
        })
    }

    /// numeric's text form.
    pub fn to_text(self) -> String {
        let digits = self.mantissa.unsigned_abs().to_string();
        let sign = if self.mantissa < 0 { "-" } else { "" };
        let s = self.scale as usize;
        if s == 0 {
            return format!("{sign}{digits}");
        }
        let padded = format!("{digits:0>width$}", width = s + 1);
        let (i, f) = padded.split_at(padded.len() - s);
        format!("{sign}{i}.{f}")
    }
}

/// One customer's orders up to `as_of` (day numbers of any epoch).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Rfm {
    pub as_of: i32,
    pub first: Option<i32>,
    pub last: Option<i32>,
    /// Orders with an amount of 0 or more (refunds, amounts below 0, reduce monetary only).
    pub orders: u64,
    pub monetary: Decimal,
}

/// Bytes of Rfm::to_flat.
pub const FLAT_LEN: usize = 41;

/// What insight.rfm returns.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RfmStats {
    pub recency_days: i32,
    pub frequency: i64,
    pub monetary: Decimal,
    pub tenure_days: i32,
}

impl Rfm {
    pub fn new(as_of: i32) -> Rfm {
        Rfm {
            as_of,
            first: None,
            last: None,
            orders: 0,
            monetary: Decimal::default(),
        }
    }

    /// Adds an order; false when the sum overflows.
    pub fn add(&mut self, day: i32, amount: Decimal) -> bool {
        if day > self.as_of {
            return true;
        }
        let Some(sum) = self.monetary.checked_add(amount) else {
            return false;
        };
        self.monetary = sum;
        if amount.mantissa >= 0 {
            self.orders = self.orders.saturating_add(1);
            self.first = Some(self.first.map_or(day, |f| f.min(day)));
            self.last = Some(self.last.map_or(day, |l| l.max(day)));
        }
        true
    }

    pub fn merge(&mut self, other: &Rfm) -> bool {
        let Some(sum) = self.monetary.checked_add(other.monetary) else {
            return false;
        };
        self.monetary = sum;
        self.orders = self.orders.saturating_add(other.orders);
        self.first = match (self.first, other.first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last = match (self.last, other.last) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        true
    }

    /// The state as fixed-size bytes, so that the aggregate changes it in place row by row:
    /// as_of, first and last (0 unless `has_days`), orders, the sum's mantissa and scale,
    /// `has_days` (1 when first and last are set), little-endian.
    pub fn to_flat(&self) -> [u8; FLAT_LEN] {
        let mut b = [0u8; FLAT_LEN];
        b[0..4].copy_from_slice(&self.as_of.to_le_bytes());
        b[4..8].copy_from_slice(&self.first.unwrap_or(0).to_le_bytes());
        b[8..12].copy_from_slice(&self.last.unwrap_or(0).to_le_bytes());
        b[12..20].copy_from_slice(&self.orders.to_le_bytes());
        b[20..36].copy_from_slice(&self.monetary.mantissa.to_le_bytes());
        b[36..40].copy_from_slice(&self.monetary.scale.to_le_bytes());
        b[40] = (self.first.is_some() && self.last.is_some()) as u8;
        b
    }

    /// The state of `to_flat`'s bytes; None for bytes it cannot have written (another length,
    /// a scale beyond MAX_SCALE, first after last or last after as_of, a flag other than 0 or 1).
    pub fn from_flat(b: &[u8]) -> Option<Rfm> {
        let b: &[u8; FLAT_LEN] = b.try_into().ok()?;
        let i32_at = |i: usize| i32::from_le_bytes(b[i..i + 4].try_into().unwrap());
        let (first, last) = match b[40] {
            0 => (None, None),
            1 if i32_at(4) <= i32_at(8) && i32_at(8) <= i32_at(0) => {
                (Some(i32_at(4)), Some(i32_at(8)))
            }
            _ => return None,
        };
        let scale = u32::from_le_bytes(b[36..40].try_into().unwrap());
        if scale > MAX_SCALE {
            return None;
        }
        Some(Rfm {
            as_of: i32_at(0),
            first,
            last,
            orders: u64::from_le_bytes(b[12..20].try_into().unwrap()),
            monetary: Decimal {
                mantissa: i128::from_le_bytes(b[20..36].try_into().unwrap()),
                scale,
            },
        })
    }

    /// None without an order on or before `as_of`.
    pub fn stats(&self) -> Option<RfmStats> {
        Some(RfmStats {
            // saturating: dates 5.8 million years apart do not fit int4 days
            recency_days: self.as_of.saturating_sub(self.last?),
            frequency: self.orders.min(i64::MAX as u64) as i64,
            monetary: self.monetary,
            tenure_days: self.as_of.saturating_sub(self.first?),
        })
    }
}

/// A named segment and its ranges of R and FM (inclusive).
pub type Segment = (&'static str, (i32, i32), (i32, i32));

/// The segments of the RFM map, by recency score R and FM, the mean of the frequency and
/// monetary scores rounded half up (all scores 1 to 5, 5 the best): (segment, R range, FM range).
pub const SEGMENTS: &[Segment] = &[
    ("Champions", (4, 5), (4, 5)),
    ("Loyal", (3, 4), (4, 5)),
    ("Potential loyalist", (4, 5), (2, 3)),
    ("New", (5, 5), (1, 1)),
    ("Promising", (4, 4), (1, 1)),
    ("Need attention", (3, 3), (3, 3)),
    ("About to sleep", (3, 3), (1, 2)),
    ("Can't lose them", (1, 2), (5, 5)),
    ("At risk", (1, 2), (3, 4)),
    ("Hibernating", (2, 2), (1, 2)),
    ("Lost", (1, 1), (1, 2)),
];

/// The named segment of scores (each 1 to 5); the first row of SEGMENTS that holds them
/// (Champions takes (4, 4) before Loyal).
pub fn segment(r: i32, f: i32, m: i32) -> Option<&'static str> {
    if ![r, f, m].iter().all(|s| (1..=5).contains(s)) {
        return None;
    }
    let fm = (f + m + 1) / 2;
    SEGMENTS
        .iter()
        .find(|(_, (rl, rh), (fl, fh))| (*rl..=*rh).contains(&r) && (*fl..=*fh).contains(&fm))
        .map(|(name, _, _)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flat_form_reads_back_and_refuses_what_it_cannot_have_written() {
        let mut r = Rfm::new(900);
        assert_eq!(Rfm::from_flat(&r.to_flat()), Some(r.clone()));
        for (d, m) in [(400, 1999), (120, -500), (880, 25)] {
            assert!(r.add(
                d,
                Decimal {
                    mantissa: m,
                    scale: 2
                }
            ));
        }
        let b = r.to_flat();
        assert_eq!(Rfm::from_flat(&b), Some(r.clone()));
        assert!(Rfm::from_flat(&b[..FLAT_LEN - 1]).is_none());
        let mut bad = b;
        bad[40] = 2;
        assert!(Rfm::from_flat(&bad).is_none());
        let mut bad = b;
        bad[36] = 13; // scale
        assert!(Rfm::from_flat(&bad).is_none());
        let mut bad = b;
        bad[4..8].copy_from_slice(&950i32.to_le_bytes()); // first after last
        assert!(Rfm::from_flat(&bad).is_none());
    }

    #[test]
    fn decimals_add_exactly() {
        let d = |s: &str| Decimal::parse(s).unwrap();
        assert_eq!(
            d("12.50").checked_add(d("0.125")).unwrap().to_text(),
            "12.625"
        );
        assert_eq!(d("-3").checked_add(d("1.5")).unwrap().to_text(), "-1.5");
        assert_eq!(d("0.07").to_text(), "0.07");
        assert_eq!(d("100").to_text(), "100");
        // 0.1 + 0.2 is 0.3, not 0.30000000000000004
        assert_eq!(d("0.1").checked_add(d("0.2")).unwrap().to_text(), "0.3");
        assert_eq!(d("1.0000000000000").to_text(), "1");
        for bad in [
            "NaN",
            "Infinity",
            "-Infinity",
            "",
            ".",
            "1e5",
            "0.0000000000001",
        ] {
            assert!(Decimal::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn every_score_has_one_segment_and_every_segment_is_reached() {
        let mut seen = std::collections::HashSet::new();
        for r in 1..=5 {
            for f in 1..=5 {
                for m in 1..=5 {
                    seen.insert(segment(r, f, m).expect("covered"));
                }
            }
        }
        assert_eq!(seen.len(), SEGMENTS.len());
        assert_eq!(segment(5, 5, 5), Some("Champions"));
        assert_eq!(segment(1, 5, 5), Some("Can't lose them"));
        assert_eq!(segment(5, 1, 1), Some("New"));
        assert_eq!(segment(1, 1, 1), Some("Lost"));
        assert_eq!(segment(0, 1, 1), None);
    }

    #[test]
    fn refunds_reduce_monetary_only_and_states_merge() {
        let d = |s: &str| Decimal::parse(s).unwrap();
        let mut a = Rfm::new(100);
        assert!(a.add(10, d("20.00")));
        assert!(a.add(50, d("5.5")));
        assert!(a.add(60, d("-5.5")));
        assert!(a.add(120, d("99")));
        let s = a.stats().unwrap();
        assert_eq!((s.recency_days, s.frequency, s.tenure_days), (50, 2, 90));
        assert_eq!(s.monetary.to_text(), "20.00");
        let mut b = Rfm::new(100);
        b.add(90, d("1.25"));
        assert!(a.merge(&b));
        let s = a.stats().unwrap();
        assert_eq!(
            (
                s.recency_days,
                s.frequency,
                s.tenure_days,
                s.monetary.to_text()
            ),
            (10, 3, 90, "21.25".to_string())
        );
        assert_eq!(Rfm::new(5).stats(), None);
    }
}
