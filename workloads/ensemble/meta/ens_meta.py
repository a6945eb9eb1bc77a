"""Meta-trainer: fits the second-level model on the first-level models' predictions of the meta split."""
import time

import numpy as np

from ens_dataset import dumps, loads


def fit_meta(models, data):
    from sklearn.linear_model import LinearRegression

    X, y = data["meta"]
    features = np.column_stack([m.predict(X) for m in models])
    return LinearRegression().fit(features, y)


def handler(event, context):
    t0 = time.perf_counter()
    models = loads(context.get(event["joint"]))
    data = loads(context.get(event["dataset"]))
    t1 = time.perf_counter()
    meta = fit_meta(models, data)
    blob = dumps({"base": models, "meta": meta})
    t2 = time.perf_counter()
    ref = context.put(blob, retrievals=1, transfer=event["transfer"])
    t3 = time.perf_counter()
    return {"final": ref, "timings": {"getMs": (t1 - t0) * 1e3, "computeMs": (t2 - t1) * 1e3, "putMs": (t3 - t2) * 1e3}}
