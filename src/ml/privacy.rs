//! Columns that identify people: e-mail addresses, phone numbers, names and other short values
//! that are mostly distinct. As inputs they cannot generalise (one-hot of them learns
//! individuals), and a model would store them: its most frequent categories, or its text model's
//! n-grams. train leaves such columns out unless they are named (data::columns).

/// What a column's values look like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Identity {
    Email,
    Phone,
    /// Short values (three words or fewer), mostly distinct: names, identifiers, codes.
    Name,
}

impl Identity {
    pub fn describe(self) -> &'static str {
        match self {
            Identity::Email => "e-mail addresses",
            Identity::Phone => "phone numbers",
            Identity::Name => "names or identifiers (short, mostly distinct values)",
        }
    }
}

/// Values needed before a column's look says anything.
pub const MIN_VALUES: usize = 100;
/// The share of values that must have the look.
const LOOK_SHARE: f64 = 0.8;

fn is_email(v: &str) -> bool {
    let mut parts = v.split('@');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(user), Some(domain), None) => {
            !user.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && v.len() <= 254
                && !v.chars().any(char::is_whitespace)
        }
        _ => false,
    }
}

fn is_phone(v: &str) -> bool {
    let digits = v.chars().filter(char::is_ascii_digit).count();
    (7..=15).contains(&digits)
        && v.chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c))
}

/// Scripts written without spaces between words (Thai, Lao, Myanmar, Khmer, kana, CJK, hangul): a
/// short value there is still a sentence.
fn unspaced(c: char) -> bool {
    matches!(c as u32,
        0x0E00..=0x0EFF | 0x1000..=0x109F | 0x1780..=0x17FF | 0x3040..=0x30FF
        | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xAC00..=0xD7AF)
}

/// Three words or fewer, 40 characters or fewer, no exclamation or question (those are comments).
fn is_short(v: &str) -> bool {
    let chars = v.chars().count();
    v.split_whitespace().count() <= 3
        && chars <= 40
        && !v.contains(['!', '?', '！', '？'])
        && (chars <= 4 || !v.chars().any(unspaced))
}

/// Whether the non-NULL values of a column (a sample) identify people: at least half of them
/// distinct, and four in five with the look of e-mail addresses, phone numbers, or short values.
/// Free text (reviews) is longer; categories repeat.
pub fn identity_of<'a>(values: impl Iterator<Item = &'a str>) -> Option<Identity> {
    let (mut n, mut email, mut phone, mut short) = (0usize, 0usize, 0usize, 0usize);
    let mut distinct = std::collections::HashSet::new();
    for v in values {
        n += 1;
        distinct.insert(v);
        let v = v.trim();
        if is_email(v) {
            email += 1;
        } else if is_phone(v) {
            phone += 1;
        } else if is_short(v) {
            short += 1;
        }
    }
    if n < MIN_VALUES || distinct.len() * 2 < n {
        return None;
    }
    let enough = |k: usize| k as f64 >= LOOK_SHARE * n as f64;
    if enough(email) {
        Some(Identity::Email)
    } else if enough(phone) {
        Some(Identity::Phone)
    } else if enough(email + phone + short) {
        Some(Identity::Name)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(f: impl Fn(usize) -> String) -> Vec<String> {
        (0..400).map(f).collect()
    }

    fn of(values: &[String]) -> Option<Identity> {
        identity_of(values.iter().map(String::as_str))
    }

    #[test]
    fn finds_identities() {
        // a shared household address now and then: mostly distinct, not unique
        let emails = column(|i| format!("customer{}@example.com", i - i % 10 / 9));
        assert_eq!(of(&emails), Some(Identity::Email));
        let phones = column(|i| format!("+1 (555) 010-{:04}", i * 7));
        assert_eq!(of(&phones), Some(Identity::Phone));
        let first = [
            "Anna", "Ben", "Chen", "Dana", "Eli", "Fatima", "Goran", "Hana",
        ];
        let last = [
            "Smith", "Li", "Garcia", "Novak", "Okafor", "Tanaka", "Berg", "Rossi",
        ];
        let names = column(|i| format!("{} {} {}", first[i % 8], last[(i / 8) % 8], i / 64));
        assert_eq!(of(&names), Some(Identity::Name));
        let chinese_names = column(|i| {
            format!(
                "{}{}",
                ["张", "王", "李", "赵"][i % 4],
                char::from_u32(0x4E00 + i as u32).unwrap()
            )
        });
        assert_eq!(of(&chinese_names), Some(Identity::Name));
    }

    #[test]
    fn leaves_free_text_categories_and_small_samples_alone() {
        let reviews = column(|i| format!("the coffee arrived fast and tastes great, order {i}"));
        assert_eq!(of(&reviews), None);
        let chinese_reviews = column(|i| format!("物流很快，咖啡很好喝，第{i}次买"));
        assert_eq!(of(&chinese_reviews), None);
        let thai_reviews = column(|i| format!("กาแฟอร่อยมากส่งเร็ว{i}"));
        assert_eq!(of(&thai_reviews), None);
        let short_comments = column(|i| format!("Great coffee {i}!"));
        assert_eq!(of(&short_comments), None);
        let regions = column(|i| ["north", "south", "east", "west"][i % 4].to_string());
        assert_eq!(of(&regions), None);
        let few: Vec<String> = (0..50).map(|i| format!("c{i}@example.com")).collect();
        assert_eq!(of(&few), None);
        // mixed: half e-mails, half reviews
        let mixed = column(|i| {
            if i % 2 == 0 {
                format!("c{i}@example.com")
            } else {
                format!("a long review of the coffee, number {i}, with many words")
            }
        });
        assert_eq!(of(&mixed), None);
    }

    #[test]
    fn the_looks() {
        assert!(is_email("a.b+c@mail.example.org"));
        assert!(!is_email("a@b"));
        assert!(!is_email("a@b.c@d.e"));
        assert!(!is_email("write to a@b.com"));
        assert!(is_phone("+44 20 7946 0958"));
        assert!(!is_phone("12345"));
        assert!(!is_phone("call 555 0100"));
        assert!(is_short("Anna Smith"));
        assert!(!is_short("arrived late and cold"));
        assert!(is_short("张伟"));
        assert!(!is_short("物流很快咖啡很好"));
    }
}
