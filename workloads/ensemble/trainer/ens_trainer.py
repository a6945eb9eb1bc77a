"""Trainer: gets the broadcast dataset, fits the first-level model number `index`, puts it."""
import time

from ens_dataset import dumps, loads


def build_model(index):
    """Trainer `index` fits one of the four learners of the thesis, with per-index hyper-parameters."""
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.linear_model import Lasso
    from sklearn.neighbors import KNeighborsRegressor
    from sklearn.svm import LinearSVR

    kind, variant = index % 4, index // 4
    if kind == 0:
        return LinearSVR(C=0.5 + variant, epsilon=0.1, max_iter=2000, dual=True, random_state=index)
    if kind == 1:
        return Lasso(alpha=0.01 * (1 + variant))
    if kind == 2:
        return KNeighborsRegressor(n_neighbors=5 + 2 * variant)
    return RandomForestRegressor(n_estimators=8, max_depth=8, random_state=index, n_jobs=1)


def train(index, data):
    X, y = data["base"]
    return build_model(index).fit(X, y)


def handler(event, context):
    t0 = time.perf_counter()
    data = loads(context.get(event["dataset"]))
    t1 = time.perf_counter()
    model = train(event["index"], data)
    t2 = time.perf_counter()
    ref = context.put(dumps(model), retrievals=1, transfer=event["transfer"])
    t3 = time.perf_counter()
    return {"model": ref, "timings": {"getMs": (t1 - t0) * 1e3, "computeMs": (t2 - t1) * 1e3, "putMs": (t3 - t2) * 1e3}}
