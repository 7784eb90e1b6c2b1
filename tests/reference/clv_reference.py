#!/tmp/lt-venv/bin/python
"""Reference values for pg_insight's CLV code (RFM summary, BG/NBD, Pareto/NBD, Gamma-Gamma, CLV),
computed with the Python package lifetimes 0.11.3.

Set-up and run (from the repository root):
    python3 -m venv /tmp/lt-venv && /tmp/lt-venv/bin/pip install lifetimes==0.11.3 mpmath
    /tmp/lt-venv/bin/python tests/reference/cdnow_to_csv.py      # writes data/cdnow_sample_transactions.csv
    /tmp/lt-venv/bin/python tests/reference/clv_reference.py > tests/reference/clv_reference.out
Works unchanged with the newest numpy 2.4.6 / pandas 3.1.1 / scipy 1.17.1 / autograd 1.9.1 (no pins
needed). clv_reference.out was made with those. Cross-check with numpy 1.23.5 / pandas 1.5.3 /
scipy 1.10.1 / autograd 1.5: summaries equal (one monetary_value differs by 1 ulp), BG/NBD and GG fits
and all predictions/CLVs agree to <=1e-12 relative, the seeded default Pareto/NBD fit is identical,
the "refined" Pareto/NBD optimum agrees to ~1e-7 relative (flat likelihood: LL equal to 1e-12).

DATA. data/cdnow_sample_transactions.csv comes from lifetimes/datasets/CDNOW_sample.txt (the 1/10
CDNOW sample of Fader/Hardie: 2357 customers whose first purchase is in 1997Q1, 6919 transaction lines
from 1997-01-01 to 1998-06-30). That file is whitespace-separated without header, 5 fields:
  (1) original CDNOW master customer id (zero-padded, e.g. 00004), (2) customer index in the sample
  0001..2357 (1:1 with (1); the ID of Fader/Hardie's cdnowSummary), (3) date yyyymmdd,
  (4) number of CDs, (5) amount in dollars (2 decimals; 8 lines are 0.00).
CSV: customer_id = field (2) as integer, date = ISO yyyy-mm-dd, amount = field (5) verbatim; all lines
kept in file order (177 (customer, date) pairs have more than one line).

SUMMARY CONVENTIONS (lifetimes.utils.summary_data_from_transaction_data, freq='D', freq_multiplier=7):
  * dates are truncated to days (to_period('D')); rows with day > observation_period_end are dropped
    (the end day itself is included);
  * all rows of one customer on the same day are merged into ONE purchase (groupby [day, customer]);
    their amounts are SUMMED;
  * frequency = (number of distinct purchase days) - 1   (first day not counted);
  * recency = (last purchase day - first purchase day) in days / 7;
  * T = (observation_period_end - first purchase day) in days / 7  (observation_period_end is taken at
    00:00 of that day, so a customer first buying on 1997-01-01 has T = 272/7 = 38.857142857142854
    with end 1997-09-30 -- the "38.86" of Fader/Hardie);
  * monetary_value = arithmetic mean over the REPEAT purchase days (first day excluded) of the per-day
    summed amount; 0 when frequency = 0. (0.00 amounts are kept and enter the mean.)

LOG-LIKELIHOOD CONVENTIONS. Before fitting, BG/NBD and Pareto/NBD rescale time by c = 1/max(T)
(utils._scale_time), fit on (c*recency, c*T), then divide alpha (and beta) by c.
  * BetaGeoFitter._negative_log_likelihood_ = -(sum_i LL_i on scaled times)/n + penalizer*sum(params^2),
    i.e. a per-customer MEAN, in the scaled time unit, params in the penalty = (r, c*alpha, a, b).
  * ParetoNBDFitter._negative_log_likelihood_ = -(sum_i w_i LL_i)/mean(w) + penalty: with unit weights
    the TOTAL, again in the scaled time unit.
  * GammaGammaFitter._negative_log_likelihood_ = -(sum_i LL_i)/n + penalty (MEAN; no time scaling).
  Rescaling time multiplies each customer's BG/NBD or Pareto/NBD likelihood by c^(-x_i), so
  total LL in weeks = (total LL in scaled units) + sum_i(x_i)*log(c). This script prints both the
  lifetimes attribute and the total LL in weeks (computed directly from the formula and via that
  identity). Fader/Hardie's published LLs are totals in weeks.

CLV (GammaGammaFitter.customer_lifetime_value -> utils._customer_lifetime_value):
  m* = GG conditional_expected_average_profit(frequency, monetary_value)
     = (1-w)*p*v/(q-1) + w*monetary_value,   w = p*x/(p*x+q-1);
  factor = {"W": 4.345, "M": 1.0, "D": 30, "H": 720}[freq]   (time units per month; T/recency must be
           in that unit), `time` = number of MONTHS (default 12), discount_rate = MONTHLY rate;
  CLV = sum_{k=1..time} m* * (E[X(k*factor)|x,t_x,T] - E[X((k-1)*factor)|x,t_x,T]) / (1+discount_rate)^k
  where E[X(t)|...] is the model's conditional_expected_number_of_purchases_up_to_time (predict), i.e.
  the expected purchases in month k (k*4.345 weeks after T) discounted at the END of month k.
  In code the loop variable is i = k*factor (float), it calls predict(i) - predict(i - factor) and
  discounts by (1+d)^(i/factor); i/factor equals k up to float rounding (<1e-15 relative).
  No margin is applied; no discounting inside a month; customers with x=0 still get m* = p*v/(q-1).
"""
import math
import os
import sys
import warnings

import numpy as np
import pandas as pd
import scipy
import autograd
import lifetimes
import lifetimes.datasets
from importlib.metadata import version as _v
from lifetimes import BetaGeoFitter, GammaGammaFitter, ParetoNBDFitter
from lifetimes.utils import summary_data_from_transaction_data
from scipy.optimize import minimize
from scipy.special import gammaln

warnings.simplefilter("ignore")
HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")


def R(x):
    return repr(float(np.asarray(x).ravel()[0]))


print("python", sys.version.split()[0], "lifetimes", lifetimes.__version__, "numpy", np.__version__,
      "pandas", pd.__version__, "scipy", scipy.__version__,
      "autograd", _v("autograd"))

df = pd.read_csv(os.path.join(DATA, "cdnow_sample_transactions.csv"))
print("transactions", len(df), "customers", df.customer_id.nunique(),
      "(customer,date) pairs on >1 row", int(df[df.duplicated(["customer_id", "date"], keep=False)]
                                              .drop_duplicates(["customer_id", "date"]).shape[0]),
      "extra rows", int(df.duplicated(["customer_id", "date"]).sum()))


def summary(end):
    s = summary_data_from_transaction_data(df, "customer_id", "date", monetary_value_col="amount",
                                           observation_period_end=end, freq="D", freq_multiplier=7)
    return s.sort_index()


def check_summary(s, end):
    """Independent pure-pandas recomputation of the conventions stated in the header."""
    d = df.copy()
    d["day"] = pd.to_datetime(d["date"])
    d = d[d.day <= pd.Timestamp(end)]
    daily = d.groupby(["customer_id", "day"], as_index=False)["amount"].sum().sort_values(["customer_id", "day"])
    out = {}
    for cid, g in daily.groupby("customer_id"):
        days = list(g.day)
        amts = list(g.amount)
        x = len(days) - 1
        out[cid] = (x, (days[-1] - days[0]).days / 7, (pd.Timestamp(end) - days[0]).days / 7,
                    float(np.mean(amts[1:])) if x > 0 else 0.0)
    ref = pd.DataFrame.from_dict(out, orient="index", columns=["frequency", "recency", "T", "monetary_value"])
    diff = (ref.sort_index() - s).abs().max()
    print("  independent recomputation, max |diff| per column:", {k: float(v) for k, v in diff.items()})


# ---------------------------------------------------------------- (a) RFM summaries
print("\n=== (a) summary_data_from_transaction_data(freq='D', freq_multiplier=7)")
s = summary("1997-09-30")
s.to_csv(os.path.join(DATA, "cdnow_summary_weeks.csv"), index_label="customer_id")
s0630 = summary("1997-06-30")
s0630.to_csv(os.path.join(DATA, "cdnow_summary_weeks_0630.csv"), index_label="customer_id")
for name, tab, end in (("end 1997-09-30 -> data/cdnow_summary_weeks.csv", s, "1997-09-30"),
                       ("end 1997-06-30 -> data/cdnow_summary_weeks_0630.csv", s0630, "1997-06-30")):
    print(name)
    print("  n", len(tab), "sum frequency", R(tab.frequency.sum()), "sum recency", R(tab.recency.sum()),
          "sum T", R(tab["T"].sum()), "sum monetary_value", R(tab.monetary_value.sum()),
          "n frequency>0", int((tab.frequency > 0).sum()), "max frequency", R(tab.frequency.max()))
    for cid in (1, 2, 3, 18, 100, 1000, 2357):
        row = tab.loc[cid]
        print("  customer", cid, "frequency", R(row.frequency), "recency", R(row.recency), "T", R(row["T"]),
              "monetary_value", R(row.monetary_value))
    check_summary(tab, end)

# same-day example: a customer with two lines on one day
dup = df[df.duplicated(["customer_id", "date"], keep=False)]
cid = int(dup.customer_id.iloc[0])
print("same-day example: customer", cid, "transactions up to 1997-09-30:")
print("  " + df[(df.customer_id == cid) & (df.date <= "1997-09-30")].to_string(index=False).replace("\n", "\n  "))
print("  summary:", {k: float(v) for k, v in s.loc[cid].items()})

# comparison with Fader/Hardie's published summary shipped in lifetimes (2 decimals)
fh = lifetimes.datasets.load_cdnow_summary(index_col=[0])
print("vs lifetimes' cdnow_customers_summary.csv (Fader/Hardie, rounded to 2 dp): frequency mismatches",
      int((fh.frequency != s.frequency).sum()),
      "max |recency diff|", R((fh.recency - s.recency).abs().max()),
      "max |T diff|", R((fh["T"] - s["T"]).abs().max()))

f, rec, T, m = s.frequency, s.recency, s["T"], s.monetary_value
n = len(s)
sum_x = float(f.sum())


# ---------------------------------------------------------------- (b) BG/NBD
def bg_total_ll(params, x, tx, T):
    """Total BG/NBD log-likelihood (FHL 2005 eq. 6) in the units of tx/T, non-penalized."""
    r, alpha, a, b = params
    x, tx, T = (np.asarray(v, dtype=float) for v in (x, tx, T))
    A1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    A2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    A3 = -(r + x) * np.log(alpha + T)
    A4 = np.where(x > 0, np.log(a) - np.log(b + np.maximum(x, 1) - 1) - (r + x) * np.log(alpha + tx), -np.inf)
    return float(np.sum(A1 + A2 + np.logaddexp(A3, A4)))


print("\n=== (b) BetaGeoFitter on the full summary (n=%d, sum x=%r, time scale c=1/max(T)=%r)" % (n, sum_x, float(1 / T.max())))
bgf = None
for pen in (0.0, 0.1):
    b = BetaGeoFitter(penalizer_coef=pen).fit(f, rec, T)
    if pen == 0.0:
        bgf = b
    p = b.params_
    print("penalizer_coef=%r" % pen)
    print("  r", R(p["r"]), "alpha", R(p["alpha"]), "a", R(p["a"]), "b", R(p["b"]))
    print("  _negative_log_likelihood_ (mean, scaled time, incl. penalty)", R(b._negative_log_likelihood_))
    ll = bg_total_ll(p.values, f, rec, T)
    print("  total LL in weeks (no penalty) at these params", repr(ll))
    if pen == 0.0:
        print("  identity -n*nll_ + sum(x)*log(c)", repr(-n * float(b._negative_log_likelihood_) + sum_x * math.log(b._scale)))
        print("  Fader-Hardie-Lee 2005: r=0.243 alpha=4.414 a=0.793 b=2.426 LL=-9582.4")
b2 = BetaGeoFitter().fit(f, rec, T, tol=1e-10)
print("tighter fit (tol=1e-10 instead of 1e-7): r", R(b2.params_["r"]), "alpha", R(b2.params_["alpha"]),
      "a", R(b2.params_["a"]), "b", R(b2.params_["b"]), "LL", repr(bg_total_ll(b2.params_.values, f, rec, T)))

# ---------------------------------------------------------------- (c) BG/NBD predictions
TRIPLES = [(0, 0.0, 38.86), (1, 30.43, 38.86), (2, 1.57, 38.86), (7, 29.43, 35.29), (25, 37.0, 38.0), (200, 35.0, 38.0)]
print("\n=== (c) BG/NBD (unpenalized fit) predictions")
for x, tx, TT in TRIPLES:
    print("(x=%r, t_x=%r, T=%r): E[X(39)|.]" % (x, tx, TT),
          R(bgf.conditional_expected_number_of_purchases_up_to_time(39, x, tx, TT)),
          "E[X(10)|.]", R(bgf.conditional_expected_number_of_purchases_up_to_time(10, x, tx, TT)),
          "P(alive)", R(bgf.conditional_probability_alive(x, tx, TT)))
print("E[X(39)] unconditional", R(bgf.expected_number_of_purchases_up_to_time(39)),
      "E[X(10)]", R(bgf.expected_number_of_purchases_up_to_time(10)))

# ---------------------------------------------------------------- (d) Gamma-Gamma + CLV
print("\n=== (d) GammaGammaFitter on customers with frequency > 0")
rep = s[s.frequency > 0]
ggf = GammaGammaFitter(penalizer_coef=0.0).fit(rep.frequency, rep.monetary_value)
gp = ggf.params_
print("n", len(rep), "p", R(gp["p"]), "q", R(gp["q"]), "v", R(gp["v"]))
print("_negative_log_likelihood_ (mean)", R(ggf._negative_log_likelihood_),
      "total LL", repr(-len(rep) * float(ggf._negative_log_likelihood_)))
print("(Fader/Hardie note 025 on the 946 CDNOW repeaters, 39-week calibration: p=6.25 q=3.74 v=15.44)")
print("population mean p*v/(q-1)", R(gp["p"] * gp["v"] / (gp["q"] - 1)))
for x, mv in ((1, 30.0), (5, 50.0), (20, 25.5)):
    print("conditional_expected_average_profit(x=%r, m=%r)" % (x, mv), R(ggf.conditional_expected_average_profit(x, mv)))
for x, tx, TT, mv in ((2, 30.43, 38.86, 22.35), (7, 29.43, 35.29, 40.0), (25, 37.0, 38.0, 15.0)):
    clv = ggf.customer_lifetime_value(bgf, pd.Series([x]), pd.Series([tx]), pd.Series([TT]), pd.Series([mv]),
                                      time=12, discount_rate=0.01, freq="W")
    # same thing written out
    madj = float(ggf.conditional_expected_average_profit(x, mv))
    manual = sum(madj * (float(bgf.conditional_expected_number_of_purchases_up_to_time(4.345 * k, x, tx, TT))
                         - float(bgf.conditional_expected_number_of_purchases_up_to_time(4.345 * (k - 1), x, tx, TT)))
                 / 1.01 ** k for k in range(1, 13))
    print("CLV(x=%r, t_x=%r, T=%r, m=%r, time=12, d=0.01, freq='W')" % (x, tx, TT, mv), R(clv.iloc[0]),
          " m*", repr(madj), " E[X(52.14)|.]", R(bgf.conditional_expected_number_of_purchases_up_to_time(12 * 4.345, x, tx, TT)),
          " re-computed", repr(manual))

# ---------------------------------------------------------------- (e) Pareto/NBD
print("\n=== (e) ParetoNBDFitter on the full summary")


def pnbd_total_ll(params, x, tx, T):
    return float(np.sum(ParetoNBDFitter._conditional_log_likelihood(list(params), np.asarray(x, dtype=float),
                                                                  np.asarray(tx, dtype=float), np.asarray(T, dtype=float))))


np.random.seed(0)  # lifetimes draws the starting point from N(1, 0.05); Nelder-Mead, tol=1e-4
pnf = ParetoNBDFitter(penalizer_coef=0.0).fit(f, rec, T)
pp = pnf.params_
print("lifetimes default fit (np.random.seed(0)): r", R(pp["r"]), "alpha", R(pp["alpha"]), "s", R(pp["s"]), "beta", R(pp["beta"]))
print("  _negative_log_likelihood_ (TOTAL, scaled time)", R(pnf._negative_log_likelihood_),
      " total LL in weeks", repr(pnbd_total_ll(pp.values, f, rec, T)),
      " identity", repr(-float(pnf._negative_log_likelihood_) + sum_x * math.log(pnf._scale)))
x0 = pp.values * np.array([1.0, pnf._scale, 1.0, pnf._scale])
pnf2 = ParetoNBDFitter(penalizer_coef=0.0).fit(f, rec, T, initial_params=x0, tol=1e-12, maxiter=100000)
pp2 = pnf2.params_
print("refined (restart from it, tol=1e-12): r", R(pp2["r"]), "alpha", R(pp2["alpha"]), "s", R(pp2["s"]), "beta", R(pp2["beta"]),
      " total LL in weeks", repr(pnbd_total_ll(pp2.values, f, rec, T)))
# independent check of the optimum: Nelder-Mead in log-parameters on the unscaled total LL
res = minimize(lambda lp: -pnbd_total_ll(np.exp(lp), f, rec, T), np.log(pp2.values), method="Nelder-Mead",
               options={"xatol": 1e-11, "fatol": 1e-11, "maxiter": 100000, "maxfev": 100000})
print("check (log-params, weeks): r", repr(float(np.exp(res.x[0]))), "alpha", repr(float(np.exp(res.x[1]))),
      "s", repr(float(np.exp(res.x[2]))), "beta", repr(float(np.exp(res.x[3]))), " total LL", repr(-float(res.fun)))
print("Fader-Hardie-Lee 2005 (MATLAB note): r=0.55 alpha=10.58 s=0.61 beta=11.67 LL=-9595.0")
for label, model in (("default", pnf), ("refined", pnf2)):
    print("predictions, %s fit:" % label)
    for x, tx, TT in TRIPLES:
        print("  (x=%r, t_x=%r, T=%r): E[X(39)|.]" % (x, tx, TT),
              R(model.conditional_expected_number_of_purchases_up_to_time(39, x, tx, TT)),
              "P(alive)", R(model.conditional_probability_alive(x, tx, TT)))
    print("  E[X(39)] unconditional", R(model.expected_number_of_purchases_up_to_time(39)))

print("CLV of the Gamma-Gamma fit of (d) paired with the refined Pareto/NBD fit (time=12, d=0.01, freq='W'):")
for x, tx, TT, mv in ((2, 30.43, 38.86, 22.35), (7, 29.43, 35.29, 40.0), (25, 37.0, 38.0, 15.0)):
    clv = ggf.customer_lifetime_value(pnf2, pd.Series([x]), pd.Series([tx]), pd.Series([TT]), pd.Series([mv]),
                                      time=12, discount_rate=0.01, freq="W")
    print("  CLV(x=%r, t_x=%r, T=%r, m=%r)" % (x, tx, TT, mv), R(clv.iloc[0]))

# ---------------------------------------------------------------- high-precision cross-check of (c), (e)
try:
    import mpmath as mp
except ImportError:
    mp = None
if mp is not None:
    mp.mp.dps = 40
    print("\n=== mpmath (40 digits) evaluation of the same closed forms at the same fitted params")
    r_, al, a_, b_ = (mp.mpf(float(v)) for v in bgf.params_.values)

    def bg_cond(t, x, tx, TT):
        t, tx, TT = mp.mpf(t), mp.mpf(tx), mp.mpf(TT)
        num = (a_ + b_ + x - 1) / (a_ - 1) * (1 - ((al + TT) / (al + TT + t)) ** (r_ + x)
                                           * mp.hyp2f1(r_ + x, b_ + x, a_ + b_ + x - 1, t / (al + TT + t)))
        den = 1 + (a_ / (b_ + x - 1) * ((al + TT) / (al + tx)) ** (r_ + x) if x > 0 else 0)
        return num / den

    def bg_alive(x, tx, TT):
        if x == 0:
            return mp.mpf(1)
        return 1 / (1 + a_ / (b_ + x - 1) * ((al + TT) / (al + tx)) ** (r_ + x))

    for x, tx, TT in TRIPLES:
        v39 = bg_cond(39, x, tx, TT)
        l39 = float(bgf.conditional_expected_number_of_purchases_up_to_time(39, x, tx, TT))
        print("BG (x=%r, t_x=%r, T=%r): E[X(39)|.] %s (lifetimes rel.err %.2e)  E[X(10)|.] %s  P(alive) %s"
              % (x, tx, TT, mp.nstr(v39, 17), abs(l39 - float(v39)) / float(v39), mp.nstr(bg_cond(10, x, tx, TT), 17),
                 mp.nstr(bg_alive(x, tx, TT), 17)))
    t = mp.mpf(39)
    print("BG E[X(39)]", mp.nstr((a_ + b_ - 1) / (a_ - 1) * (1 - (al / (al + t)) ** r_ * mp.hyp2f1(r_, b_, a_ + b_ - 1, t / (al + t))), 17))

    for label, model in (("default", pnf), ("refined", pnf2)):
        pr, pa, ps, pb = (mp.mpf(float(v)) for v in model.params_.values)

        def pn(x, tx, TT, pr=pr, pa=pa, ps=ps, pb=pb):
            tx, TT = mp.mpf(tx), mp.mpf(TT)
            rsx = pr + ps + x
            if pa >= pb:
                A0 = (mp.hyp2f1(rsx, ps + 1, rsx + 1, (pa - pb) / (pa + tx)) / (pa + tx) ** rsx
                      - mp.hyp2f1(rsx, ps + 1, rsx + 1, (pa - pb) / (pa + TT)) / (pa + TT) ** rsx)
            else:
                A0 = (mp.hyp2f1(rsx, pr + x, rsx + 1, (pb - pa) / (pb + tx)) / (pb + tx) ** rsx
                      - mp.hyp2f1(rsx, pr + x, rsx + 1, (pb - pa) / (pb + TT)) / (pb + TT) ** rsx)
            base = 1 / ((pa + TT) ** (pr + x) * (pb + TT) ** ps)
            alive = base / (base + ps / rsx * A0)
            e39 = alive * (pr + x) * (pb + TT) / ((pa + TT) * (ps - 1)) * (1 - ((pb + TT) / (pb + TT + 39)) ** (ps - 1))
            return e39, alive

        print("Pareto/NBD %s fit:" % label)
        for x, tx, TT in TRIPLES:
            e39, alive = pn(x, tx, TT)
            print("  (x=%r, t_x=%r, T=%r): E[X(39)|.] %s  P(alive) %s" % (x, tx, TT, mp.nstr(e39, 17), mp.nstr(alive, 17)))
