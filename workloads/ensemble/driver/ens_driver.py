"""Stacking-ensemble training (thesis §6.5.5): driver → N trainers (broadcast of the dataset) →
reducer (gather of the models) → meta-trainer → driver (get of the final model).

event: {"transfer": "xdt", "seed": 1, "samples": 8000, "trainers": 16}
→ {"r2", "baseR2": [...], "predictionsDigest", "modelBytes", "timings": {"e2eMs", "transferMs", ...}}
transferMs is the critical path's transfer time: the driver's put, the slowest trainer's get + put,
the reducer's get + put, the meta-trainer's get + put and the driver's final get.
"""
import hashlib
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ens_dataset import dumps, loads, make_dataset


def stacked_predict(final, X):
    features = np.column_stack([m.predict(X) for m in final["base"]])
    return final["meta"].predict(features)


def r2(y, pred):
    return float(1.0 - np.sum((y - pred) ** 2) / np.sum((y - np.mean(y)) ** 2))


def predictions_digest(pred):
    # rounded: the digest names the model's answers, not the last bits of float formatting
    return hashlib.sha256(np.round(pred, 6).astype(np.float64).tobytes()).hexdigest()


def handler(event, context):
    transfer = event.get("transfer", "xdt")
    seed = int(event.get("seed", 1))
    samples = int(event.get("samples", 8000))
    trainers = int(event.get("trainers", 16))
    data = make_dataset(seed, samples)
    blob = dumps(data)

    t0 = time.perf_counter()
    dataset_ref = context.put(blob, retrievals=trainers + 1, transfer=transfer)
    t1 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=trainers) as pool:
        trained = list(pool.map(
            lambda i: context.invoke("ens-trainer", {"dataset": dataset_ref, "index": i, "transfer": transfer}),
            range(trainers),
        ))
    t2 = time.perf_counter()
    reduced = context.invoke("ens-reducer", {"models": [t["model"] for t in trained], "transfer": transfer})
    t3 = time.perf_counter()
    meta = context.invoke("ens-meta", {"joint": reduced["joint"], "dataset": dataset_ref, "transfer": transfer})
    t4 = time.perf_counter()
    final = loads(context.get(meta["final"]))
    t5 = time.perf_counter()

    X, y = data["test"]
    pred = stacked_predict(final, X)
    tr = [t["timings"] for t in trained]
    rt, mt = reduced["timings"], meta["timings"]
    return {
        "transfer": transfer,
        "r2": r2(y, pred),
        "baseR2": [r2(y, m.predict(X)) for m in final["base"]],
        "predictionsDigest": predictions_digest(pred),
        "datasetBytes": len(blob),
        "modelBytes": reduced["bytes"],
        "timings": {
            "e2eMs": (t5 - t0) * 1e3,
            "transferMs": (t1 - t0) * 1e3
            + max(t["getMs"] + t["putMs"] for t in tr)
            + rt["getMs"] + rt["putMs"] + mt["getMs"] + mt["putMs"]
            + (t5 - t4) * 1e3,
            "driverPutMs": (t1 - t0) * 1e3,
            "trainStageMs": (t2 - t1) * 1e3,
            "trainer": {
                "getMaxMs": max(t["getMs"] for t in tr),
                "putMaxMs": max(t["putMs"] for t in tr),
                "computeMaxMs": max(t["computeMs"] for t in tr),
            },
            "reduceStageMs": (t3 - t2) * 1e3,
            "reducer": rt,
            "metaStageMs": (t4 - t3) * 1e3,
            "meta": mt,
            "driverGetMs": (t5 - t4) * 1e3,
        },
    }
