//! What a training call's rows cost in memory, for refusing a call before it takes the machine's
//! memory (insight.max_train_memory). Per row: the columns as read (8 bytes a number, a 4-byte
//! dictionary code a text value, a string for a class label), and twice the encoded row of
//! float64 inputs (the encoded training and test rows, and the algorithm's working copy of them:
//! the MLP's float32 batches, the trees' bins and gradients, the solvers' residuals, all at most
//! that size). Measured peaks are in the README (10M rows x 20 columns).

/// Fixed cost beyond the rows: the model, its buffers, the thread team's stacks.
pub const FIXED_BYTES: u64 = 64 << 20;

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

#[cfg(test)]
mod tests {
    use super::*;

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
