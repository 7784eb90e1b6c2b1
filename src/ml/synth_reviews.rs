//! Seeded product reviews of the demo customers, in English and Chinese, with planted causes of
//! (dis)satisfaction (demo_reviews).
//!
//! Each review talks about one to three aspects (delivery, taste, packaging, service, price),
//! each good or bad, in one of several wordings, around filler sentences; one in ten is a stock
//! one-liner ("good", "很好", "terrible"), so the corpus holds many exact duplicates, as real
//! review tables do. The rating (1 to 5) follows a latent satisfaction: the sum of the aspects'
//! planted effects ([`ASPECTS`]), minus [`TICKET_EFFECT`] per support ticket of the customer
//! (demo_customers), plus noise; `satisfied` is a rating of 4 or 5. So a model of the text alone
//! does well, and a model of the text and the customer's support tickets does better.

use super::synth::customer;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Aspect, its effect on satisfaction, and wordings: (English good, English bad, Chinese good,
/// Chinese bad).
pub const ASPECTS: &[(&str, f64, [&[&str]; 4])] = &[
    (
        "delivery",
        1.2,
        [
            &["arrived fast", "quick delivery", "came a day early"],
            &[
                "took two weeks to arrive",
                "delivery was late",
                "still waiting for the parcel",
            ],
            &["物流很快", "送货及时", "第二天就到了"],
            &["物流太慢", "快递迟到了", "等了两个星期"],
        ],
    ),
    (
        "taste",
        1.6,
        [
            &["tastes great", "fresh and aromatic", "excellent quality"],
            &["tastes stale", "bitter and burnt", "poor quality"],
            &["味道很好", "很新鲜", "质量很好"],
            &["味道不好", "不新鲜", "质量很差"],
        ],
    ),
    (
        "packaging",
        0.8,
        [
            &["well packed", "nice box"],
            &["box arrived broken", "the bag was torn"],
            &["包装很好", "包装精美"],
            &["包装破损", "袋子破了"],
        ],
    ),
    (
        "service",
        1.0,
        [
            &["helpful support", "friendly staff"],
            &["support never answered", "rude staff"],
            &["客服很耐心", "服务很好"],
            &["客服不理人", "服务态度差"],
        ],
    ),
    (
        "price",
        0.7,
        [
            &["worth the price", "good value"],
            &["too expensive", "overpriced"],
            &["性价比高", "价格实惠"],
            &["太贵了", "不值这个价"],
        ],
    ),
];
/// Satisfaction lost per support ticket of the customer.
pub const TICKET_EFFECT: f64 = 0.45;
const PRODUCTS: [[&str; 5]; 2] = [
    ["coffee", "tea", "beans", "mug", "grinder"],
    ["咖啡", "茶叶", "咖啡豆", "杯子", "磨豆机"],
];
const STOCK_GOOD: [&str; 4] = ["good", "Great!", "很好", "不错"];
const STOCK_BAD: [&str; 4] = ["bad", "Terrible.", "太差了", "差评"];

pub struct Review {
    pub customer_id: i64,
    pub language: &'static str,
    pub text: String,
    pub rating: i32,
    pub satisfied: bool,
}

/// The review of the demo customer with this id (1-based, as demo_customers numbers them).
pub fn review_of(seed: u64, customer_id: i64) -> Review {
    let c = customer(seed, (customer_id - 1) as u64);
    let mut rng =
        ChaCha8Rng::seed_from_u64(seed.wrapping_mul(0xD6E8_FEB8_6659_FD93) ^ customer_id as u64);
    let zh = rng.gen::<f64>() < 0.4;
    let lang = usize::from(zh);
    let mut z = 0.4 - TICKET_EFFECT * c.support_tickets as f64;
    let text = if rng.gen::<f64>() < 0.1 {
        let good = rng.gen::<f64>() < 0.5;
        z += if good { 1.5 } else { -1.5 };
        let stock = if good { STOCK_GOOD } else { STOCK_BAD };
        stock[2 * lang + rng.gen_range(0..2)].to_string()
    } else {
        let product = PRODUCTS[lang][rng.gen_range(0..5)];
        let mut parts: Vec<String> = Vec::new();
        if rng.gen::<f64>() < 0.5 {
            parts.push(if zh {
                format!("买了{product}")
            } else {
                format!("I ordered the {product}")
            });
        }
        let n = rng.gen_range(1..=3);
        let mut order: Vec<usize> = (0..ASPECTS.len()).collect();
        for i in 0..n {
            let j = rng.gen_range(i..order.len());
            order.swap(i, j);
        }
        for &a in &order[..n] {
            let (_, effect, wordings) = ASPECTS[a];
            let good = rng.gen::<f64>() < 0.55;
            z += if good { effect } else { -effect };
            let options = wordings[2 * lang + usize::from(!good)];
            parts.push(options[rng.gen_range(0..options.len())].to_string());
        }
        if rng.gen::<f64>() < 0.3 {
            parts.push(if zh {
                "会再买".into()
            } else {
                "would buy again".into()
            });
        }
        if zh {
            parts.join("，") + "。"
        } else {
            let mut s = parts.join(", ");
            if let Some(f) = s.get_mut(0..1) {
                f.make_ascii_uppercase();
            }
            s + "."
        }
    };
    let noisy = z + 0.6 * super::synth::normal_draw(&mut rng);
    let rating = (3.0 + 0.9 * noisy).round().clamp(1.0, 5.0) as i32;
    Review {
        customer_id,
        language: if zh { "zh" } else { "en" },
        text,
        rating,
        satisfied: rating >= 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_both_languages_duplicates_and_planted_causes() {
        let reviews: Vec<Review> = (1..=2000).map(|i| review_of(42, i)).collect();
        let again = review_of(42, 17);
        assert_eq!(
            (again.text.as_str(), again.rating),
            (reviews[16].text.as_str(), reviews[16].rating)
        );
        let zh = reviews.iter().filter(|r| r.language == "zh").count();
        assert!((700..900).contains(&zh), "{zh}");
        let distinct: std::collections::HashSet<&str> =
            reviews.iter().map(|r| r.text.as_str()).collect();
        assert!(
            distinct.len() < 1900 && distinct.len() > 1000,
            "{}",
            distinct.len()
        );
        let rate = |f: &dyn Fn(&Review) -> bool| {
            let s: Vec<&Review> = reviews.iter().filter(|r| f(r)).collect();
            s.iter().filter(|r| r.satisfied).count() as f64 / s.len() as f64
        };
        // the planted causes show in the words
        assert!(rate(&|r| r.text.contains("stale") || r.text.contains("不新鲜")) < 0.35);
        assert!(rate(&|r| r.text.contains("tastes great") || r.text.contains("味道很好")) > 0.6);
        let sat = rate(&|_| true);
        assert!((0.3..0.7).contains(&sat), "{sat}");
    }
}
