#!/tmp/lt-venv/bin/python
"""Writes tests/reference/data/cdnow_sample_transactions.csv from the CDNOW sample that ships
inside the Python package lifetimes 0.11.3 (lifetimes/datasets/CDNOW_sample.txt).

Run: /tmp/lt-venv/bin/python tests/reference/cdnow_to_csv.py

CDNOW_sample.txt: 6919 lines, whitespace-separated, 5 fields, no header:
  1. original CDNOW master customer id, zero-padded (e.g. 00004); 2357 distinct
  2. customer index in the 1/10 sample, zero-padded 0001..2357 (1:1 with field 1); this is the
     ID used by Fader/Hardie's cdnowSummary and lifetimes' cdnow_customers_summary.csv
  3. date yyyymmdd (1997-01-01 .. 1998-06-30; every customer's first purchase is in 1997Q1)
  4. number of CDs bought
  5. amount in dollars (2 decimals; 8 rows are 0.00)
One line per transaction; 177 (customer, date) pairs occur on more than one line.

Output columns: customer_id (= field 2 as an integer, 1..2357), date (ISO yyyy-mm-dd),
amount (field 5 copied verbatim). Every line is kept, in file order.
"""
import os
import lifetimes

src = os.path.join(os.path.dirname(lifetimes.__file__), "datasets", "CDNOW_sample.txt")
dst = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "cdnow_sample_transactions.csv")
n = 0
with open(src) as f, open(dst, "w") as g:
    g.write("customer_id,date,amount\n")
    for line in f:
        orig_id, idx, ymd, cds, amount = line.split()
        g.write(f"{int(idx)},{ymd[:4]}-{ymd[4:6]}-{ymd[6:]},{amount}\n")
        n += 1
print("wrote", n, "rows to", dst)
