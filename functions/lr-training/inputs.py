# The review datasets lr-training learns from: set-up runs this file (`python3 inputs.py`) to fill
# data/ with the pooled variants (JSON lines); the handler generates larger or fresh ones itself.
import json
import os
import sys

from inputmode import POOL_SIZE, variant_seed
from reviews import make_reviews

POOLED_ROWS = 4000


def pool_path(data_dir, index):
    return os.path.join(data_dir, f"reviews-{index}.jsonl")


def read_pool(path, rows):
    texts, labels = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if len(texts) >= rows:
                break
            rec = json.loads(line)
            texts.append(rec["text"])
            labels.append(rec["label"])
    return texts, labels


if __name__ == "__main__":
    data_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
    base = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    os.makedirs(data_dir, exist_ok=True)
    for i in range(POOL_SIZE):
        texts, labels = make_reviews(POOLED_ROWS, variant_seed(base, i))
        with open(pool_path(data_dir, i), "w", encoding="utf-8") as f:
            for t, l in zip(texts, labels):
                f.write(json.dumps({"text": t, "label": l}) + "\n")
    print(f"lr-training: {POOL_SIZE} datasets of {POOLED_ROWS} reviews")
