# The JSON documents json-serdes works on: set-up runs this file (`python3 inputs.py`) to fill data/
# with the pooled variants; the handler calls make_document itself for sizes or variants not pooled.
import json
import os
import random
import sys

from inputmode import POOL_SIZE, variant_seed

# Size (MB) of the pooled documents; the sample input asks for this size.
POOLED_MB = 1
TAGS = ["alpha", "beta", "gamma", "delta", "cold", "warm", "snap", "reap"]


def make_document(size, seed):
    """A seeded document of records (nested objects, arrays, numbers, strings) of at least `size` bytes."""
    rnd = random.Random(seed)
    records, total, i = [], 0, 0
    while total < size:
        rec = {
            "id": i,
            "name": f"user-{rnd.randrange(10**6)}",
            "email": f"u{i}@example.org",
            "active": rnd.random() < 0.5,
            "score": round(rnd.random() * 1e4, 2),
            "tags": [t for t in TAGS if rnd.random() < 0.3],
            "address": {"city": rnd.choice(["Zurich", "Edinburgh", "Lisbon"]), "zip": str(rnd.randrange(1000, 10000))},
            "history": [{"t": t, "v": rnd.randrange(1000)} for t in range(1 + rnd.randrange(4))],
        }
        records.append(rec)
        total += len(json.dumps(rec, separators=(",", ":"))) + 1
        i += 1
    return json.dumps({"generator": "hivelab-suite", "seed": seed, "records": records}, separators=(",", ":"))


def pool_path(data_dir, index):
    return os.path.join(data_dir, f"doc-{index}.json")


if __name__ == "__main__":
    data_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
    base = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    os.makedirs(data_dir, exist_ok=True)
    for i in range(POOL_SIZE):
        with open(pool_path(data_dir, i), "w") as f:
            f.write(make_document(POOLED_MB * 2**20, variant_seed(base, i)))
    print(f"json-serdes-python: {POOL_SIZE} documents of {POOLED_MB} MB")
