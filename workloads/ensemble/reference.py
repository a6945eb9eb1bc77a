"""The same stacking ensemble trained directly, in one process (what tests compare the workflow with).

usage: /usr/bin/python3 workloads/ensemble/reference.py SEED SAMPLES TRAINERS → JSON on stdout
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
for sub in ("driver", "trainer", "meta"):
    sys.path.insert(0, os.path.join(HERE, sub))

from ens_dataset import make_dataset  # noqa: E402
from ens_driver import predictions_digest, r2, stacked_predict  # noqa: E402
from ens_meta import fit_meta  # noqa: E402
from ens_trainer import train  # noqa: E402


def main():
    seed, samples, trainers = (int(a) for a in sys.argv[1:4])
    data = make_dataset(seed, samples)
    models = [train(i, data) for i in range(trainers)]
    final = {"base": models, "meta": fit_meta(models, data)}
    X, y = data["test"]
    pred = stacked_predict(final, X)
    print(json.dumps({"r2": r2(y, pred), "predictionsDigest": predictions_digest(pred)}))


if __name__ == "__main__":
    main()
