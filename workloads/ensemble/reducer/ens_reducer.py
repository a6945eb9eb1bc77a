"""Reducer: gathers every trained model (the gather pattern) and puts them back as one joint model."""
import time

from ens_dataset import dumps, loads


def handler(event, context):
    t0 = time.perf_counter()
    blobs = [context.get(ref) for ref in event["models"]]
    t1 = time.perf_counter()
    joint = dumps([loads(b) for b in blobs])
    t2 = time.perf_counter()
    ref = context.put(joint, retrievals=1, transfer=event["transfer"])
    t3 = time.perf_counter()
    return {
        "joint": ref,
        "bytes": sum(len(b) for b in blobs),
        "timings": {"getMs": (t1 - t0) * 1e3, "computeMs": (t2 - t1) * 1e3, "putMs": (t3 - t2) * 1e3},
    }
