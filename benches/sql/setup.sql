-- 1M customers x 20 float8 features with a label drawn from a known logistic model.
DROP TABLE IF EXISTS bench_customers;
SELECT setseed(0.42);
CREATE TABLE bench_customers AS
SELECT id, f[1] AS f1, f[2] AS f2, f[3] AS f3, f[4] AS f4, f[5] AS f5, f[6] AS f6, f[7] AS f7, f[8] AS f8,
       f[9] AS f9, f[10] AS f10, f[11] AS f11, f[12] AS f12, f[13] AS f13, f[14] AS f14, f[15] AS f15,
       f[16] AS f16, f[17] AS f17, f[18] AS f18, f[19] AS f19, f[20] AS f20,
       random() < 1 / (1 + exp(-(0.8 * f[1] - 0.6 * f[2] + 0.4 * f[3] - 0.3 * f[4] + 0.2 * f[5] - 0.5))) AS label
  FROM (SELECT id, ARRAY(SELECT random() * 4 - 2 + id * 0 FROM generate_series(1, 20)) AS f
          FROM generate_series(1, :rows) id) s;
VACUUM ANALYZE bench_customers;

-- The same number of customers with eight planted segments, for the k-means benchmarks: segment s
-- (= id % 8) is centred at ((2s + 7j) mod 11 - 5) * 0.6 on feature j (every pair of centres differs
-- on every feature), plus standard normal noise (Box-Muller).
DROP TABLE IF EXISTS bench_segments;
SELECT setseed(0.43);
CREATE TABLE bench_segments AS
SELECT id, id % 8 AS planted, f[1] AS f1, f[2] AS f2, f[3] AS f3, f[4] AS f4, f[5] AS f5, f[6] AS f6, f[7] AS f7,
       f[8] AS f8, f[9] AS f9, f[10] AS f10, f[11] AS f11, f[12] AS f12, f[13] AS f13, f[14] AS f14, f[15] AS f15,
       f[16] AS f16, f[17] AS f17, f[18] AS f18, f[19] AS f19, f[20] AS f20
  FROM (SELECT id, ARRAY(SELECT ((2 * (id % 8) + 7 * j) % 11 - 5) * 0.6
                                + sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())
                           FROM generate_series(1, 20) j) AS f
          FROM generate_series(1, :rows) id) s;
VACUUM ANALYZE bench_segments;
