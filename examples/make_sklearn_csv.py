"""Write one of scikit-learn's bundled datasets to a CSV, as a user's own file would come.

    python examples/make_sklearn_csv.py iris       # examples/iris.csv: 4 features, target "species" (text labels)
    python examples/make_sklearn_csv.py diabetes   # examples/diabetes.csv: 10 features, target "progression"
    deepnets train examples/iris.toml              # each TOML reads the CSV beside it
    deepnets train examples/diabetes.toml

The data ship with scikit-learn (nothing is downloaded); diabetes is written in its original units
(``scaled=False``), so the target is disease progression on its own scale (mean 152, sd 77).
"""

import argparse
import csv
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def rows(name: str):
    """``(header, rows)`` of the named dataset: the feature columns, then the target."""
    from sklearn import datasets

    if name == "iris":
        d = datasets.load_iris()
        return [*d.feature_names, "species"], [[*map(repr, x), d.target_names[t]] for x, t in zip(d.data.tolist(), d.target)]
    d = datasets.load_diabetes(scaled=False)
    return [*d.feature_names, "progression"], [[*map(repr, x), repr(t)] for x, t in zip(d.data.tolist(), d.target.tolist())]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("name", choices=["iris", "diabetes"])
    p.add_argument("out", nargs="?", help="the CSV to write (default: examples/NAME.csv)")
    args = p.parse_args(argv)
    out = args.out or os.path.join(HERE, f"{args.name}.csv")
    header, body = rows(args.name)
    with open(out, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(body)
    print(f"{len(body)} rows written to {out}")


if __name__ == "__main__":
    main()
