"""The synthetic training set of the stacking-ensemble workload, generated from a seed (never stored).

Three disjoint splits: `base` trains the first-level models, `meta` trains the second-level model on
their predictions (so the meta model never sees predictions on the base models' own training rows),
`test` scores the result.
"""
import pickle

import numpy as np


def make_dataset(seed, samples, features=20):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(samples, features))
    w = rng.normal(size=features)
    # a non-linear part, so the different learners disagree and stacking has something to combine
    y = X @ w + 3.0 * np.sin(2.0 * X[:, 0]) + 2.0 * X[:, 1] * X[:, 2] + rng.normal(scale=0.5, size=samples)
    n_base, n_meta = int(samples * 0.5), int(samples * 0.25)
    return {
        "base": (X[:n_base], y[:n_base]),
        "meta": (X[n_base:n_base + n_meta], y[n_base:n_base + n_meta]),
        "test": (X[n_base + n_meta:], y[n_base + n_meta:]),
    }


def dumps(obj):
    return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def loads(blob):
    return pickle.loads(bytes(blob))
