//! What a training call's rows cost in memory, for refusing a call before it takes the machine's
//! memory (insight.max_train_memory). Per row: the columns as read (8 bytes a number, a 4-byte
//! dictionary code a text value, a string for a class label), and twice the encoded row of
//! float64 inputs (the encoded training and test rows, and the algorithm's working copy of them:
//! the MLP's float32 batches, the trees' bins and gradients, the solvers' residuals, all at most
//! that size). Measured peaks are in the README (10M rows x 20 columns).
//!
//! On top of the rows, each algorithm states its own working memory from its options and the
//! shape of the rows it fits on ([`FitShape`], `Recipe::working_memory`): the pairwise matrix of
//! average/complete linkage, a network's parameter copies and batch activations, the trees'
//! histograms, k-means' per-block sums. [`check_fit`] refuses a fit whose rows and working memory
//! together pass the budget, before the algorithm allocates.

/// Fixed cost beyond the rows: the model, its buffers, the thread team's stacks.
pub const FIXED_BYTES: u64 = 64 << 20;

/// The least insight.max_train_memory, in kB: twice the fixed cost, so that at the least
/// setting the rows and the algorithm have as much room as the fixed cost (at the fixed cost
/// itself no row would fit).
pub const LEAST_BUDGET_KB: i32 = ((2 * FIXED_BYTES) >> 10) as i32;

/// The inputs of a training call as read.
pub struct RowShape {
    pub numeric_inputs: usize,
    pub text_inputs: usize,
    /// The one-hot slots a text input may take (max_categories + 1), or 1 for coded categories.
    pub slots_per_text: usize,
    /// 0: no target; 8: a number; 32: a class label read as text.
    pub target_bytes: usize,
}

impl RowShape {
    /// Encoded inputs at most.
    pub fn encoded_width(&self) -> usize {
        self.numeric_inputs + self.text_inputs * self.slots_per_text
    }

    /// Bytes one training row needs at the peak.
    pub fn bytes_per_row(&self) -> u64 {
        let read = 8 * self.numeric_inputs + 4 * self.text_inputs + self.target_bytes;
        (read + 2 * 8 * self.encoded_width()) as u64
    }

    /// The most rows that fit in `budget` bytes.
    pub fn rows_within(&self, budget: u64) -> u64 {
        budget.saturating_sub(FIXED_BYTES) / self.bytes_per_row().max(1)
    }

    /// The bytes `rows` rows need, the fixed cost included.
    pub fn bytes_for(&self, rows: u64) -> u64 {
        rows.saturating_mul(self.bytes_per_row())
            .saturating_add(FIXED_BYTES)
    }
}

/// What one sampled row of a training aggregate's group costs, from the step that keeps it to
/// the final function that trains on it: the kept row (its values, a heap slot of 64 bytes that
/// the heap's doubling may leave twice, the allocation's overhead, a label) and the row as
/// training reads it ([`RowShape`] of `width` numbers and the target), plus the final
/// function's index of the sorted sample.
pub fn sample_row_bytes(width: usize, target_bytes: usize) -> u64 {
    let kept = 8 * width + 2 * 64 + 16 + target_bytes;
    let trained = RowShape {
        numeric_inputs: width,
        text_inputs: 0,
        slots_per_text: 1,
        target_bytes,
    }
    .bytes_per_row();
    (kept as u64) + trained + 8
}

/// The sampled rows of `width` inputs a group may hold within `budget` (the fixed cost aside).
pub fn sample_rows_within(budget: u64, width: usize, target_bytes: usize) -> u64 {
    budget.saturating_sub(FIXED_BYTES) / sample_row_bytes(width, target_bytes)
}

/// The rows an algorithm fits on, as it will see them: known before it allocates.
#[derive(Clone, Copy, Debug)]
pub struct FitShape {
    /// Training rows (the test split held out).
    pub rows: usize,
    /// Encoded inputs per row.
    pub inputs: usize,
    /// Classes of a classifier, 1 for a regressor, 0 for segments.
    pub classes: usize,
    /// Threads of the team (per-thread scratch).
    pub threads: usize,
}

/// Bytes of `count` values of `bytes` each, saturating (estimates of absurd options must not wrap).
pub fn bytes(count: usize, bytes: usize) -> u64 {
    (count as u64).saturating_mul(bytes as u64)
}

/// Whether a fit whose rows need `rows_bytes` (the fixed cost included) and whose algorithm
/// needs `working_bytes` more fits in `budget`; the problem says which it is and what to lower.
pub fn check_fit(
    algorithm: &str,
    rows_bytes: u64,
    working_bytes: u64,
    budget: u64,
    lower: &str,
) -> Result<(), super::problem::Problem> {
    if rows_bytes.saturating_add(working_bytes) <= budget {
        return Ok(());
    }
    Err(super::problem::Problem::memory(
        format!(
            "training {algorithm} needs about {} MB, more than insight.max_train_memory ({} MB): {} MB for the rows and {} MB of the algorithm's own working memory",
            mb(rows_bytes.saturating_add(working_bytes)),
            budget >> 20,
            mb(rows_bytes),
            mb(working_bytes)
        ),
        format!("{lower}, train on fewer rows or inputs, or have a superuser raise insight.max_train_memory."),
    ))
}

/// Megabytes, rounded up (so that "0 MB" is never said of a cost that counts).
fn mb(b: u64) -> u64 {
    b.div_ceil(1 << 20)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_setting_leaves_room_for_rows() {
        let least = (LEAST_BUDGET_KB as u64) << 10;
        assert_eq!(least, 128 << 20);
        let s = RowShape {
            numeric_inputs: 1,
            text_inputs: 0,
            slots_per_text: 1,
            target_bytes: 8,
        };
        // the review's case (one input and a target: 56 bytes a row... 32 here with a number)
        // trained nothing at 64 MB; at the least setting now over a million rows fit
        assert_eq!(s.rows_within(64 << 20), 0);
        assert!(s.rows_within(least) > 1_000_000, "{}", s.rows_within(least));
    }

    #[test]
    fn an_aggregate_group_is_charged_its_sample_and_its_training_rows() {
        // 800 inputs and a number: 6,400 kept + 152 + 8 label, 8 x 800 + 8 read, 2 x 8 x 800 encoded
        assert_eq!(sample_row_bytes(800, 8), 6400 + 144 + 8 + 6408 + 12800 + 8);
        // under 100 MB, 60,000 such rows (the review's fit_agg) are far past what fits
        let fits = sample_rows_within(100 << 20, 800, 8);
        assert_eq!(fits, (36 << 20) / 25768);
        assert!(fits < 60_000 && fits > 1000, "{fits}");
        assert_eq!(sample_rows_within(FIXED_BYTES, 800, 8), 0);
    }

    #[test]
    fn a_fit_is_refused_when_rows_and_working_memory_pass_the_budget() {
        let budget = 100 << 20;
        assert!(check_fit("x", 60 << 20, 40 << 20, budget, "Lower it").is_ok());
        let p = check_fit("agglomerative", 70 << 20, 1600 << 20, budget, "Lower options.sample_limit")
            .unwrap_err();
        assert_eq!(p.kind, super::super::problem::ProblemKind::Memory);
        assert!(p.message.contains("1670 MB") && p.message.contains("(100 MB)"), "{}", p.message);
        assert!(p.message.contains("1600 MB of the algorithm's own"), "{}", p.message);
        assert!(p.hint.starts_with("Lower options.sample_limit") && p.hint.contains("insight.max_train_memory"));
        // saturating: absurd estimates are refused, not wrapped round to small ones
        assert!(check_fit("x", u64::MAX, u64::MAX, u64::MAX - 1, "").is_err());
        assert_eq!(bytes(usize::MAX, 8), u64::MAX);
    }

    #[test]
    fn twenty_numbers_and_a_label() {
        let s = RowShape {
            numeric_inputs: 20,
            text_inputs: 0,
            slots_per_text: 21,
            target_bytes: 32,
        };
        // 20 x 8 read + 32 label + 2 x 20 x 8 encoded
        assert_eq!(s.bytes_per_row(), 160 + 32 + 320);
        assert_eq!(s.bytes_for(10_000_000), 5_120_000_000 + FIXED_BYTES);
        assert_eq!(s.rows_within(s.bytes_for(1000)), 1000);
        assert_eq!(s.rows_within(1), 0);
        let text = RowShape {
            numeric_inputs: 1,
            text_inputs: 2,
            slots_per_text: 21,
            target_bytes: 0,
        };
        assert_eq!(text.encoded_width(), 43);
    }
}
