#!/usr/bin/env python3
"""Student's t and the two-group t tests as scipy computes them: the reference for
Tunebench's core/stats (test_stats_reference).

    scipy_stats.py < CASES.json > RESULTS.json

CASES is one JSON object:
  {"cdf": [[t, df], ...], "quantile": [[p, df], ...],
   "welch": [[a, b], ...], "paired": [[a, b], ...]}
(a and b lists of numbers). The output has the same keys: "cdf" and "quantile" are
lists of numbers (scipy.stats.t.cdf and t.ppf); "welch" and "paired" are lists of
{"t", "df", "p", "low", "high"} from ttest_ind(a, b, equal_var=False) and
ttest_rel(a, b), two-sided, with their 95% confidence_interval() of the difference.
Every number is printed with repr precision (17 significant digits).

Exit status: 0 on success, 2 on bad input or when scipy cannot be imported.
Run it with the reference environment's Python (tests/reference/requirements.txt).
"""
import argparse
import json
import sys


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    try:
        from scipy import stats
    except ImportError as e:
        print(f"scipy_stats.py: cannot import scipy: {e}", file=sys.stderr)
        return 2
    try:
        cases = json.load(sys.stdin)
    except json.JSONDecodeError as e:
        print(f"scipy_stats.py: stdin: not JSON: {e}", file=sys.stderr)
        return 2

    def test_result(r):
        ci = r.confidence_interval(0.95)
        return {"t": float(r.statistic), "df": float(r.df), "p": float(r.pvalue),
                "low": float(ci.low), "high": float(ci.high)}

    out = {
        "cdf": [float(stats.t.cdf(t, df)) for t, df in cases.get("cdf", [])],
        "quantile": [float(stats.t.ppf(p, df)) for p, df in cases.get("quantile", [])],
        "welch": [test_result(stats.ttest_ind(a, b, equal_var=False)) for a, b in cases.get("welch", [])],
        "paired": [test_result(stats.ttest_rel(a, b)) for a, b in cases.get("paired", [])],
    }
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
