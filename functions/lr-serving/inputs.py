# The model lr-serving loads: set-up runs this file (`python3 inputs.py`) to train it on generated
# reviews with the same pipeline as lr-training and pickle it to data/model.pkl (deterministic: the
# data comes from the seed and the solver is seeded).
import os
import pickle
import sys

from reviews import make_pipeline, make_reviews

TRAIN_ROWS = 6000


def model_path(data_dir):
    return os.path.join(data_dir, "model.pkl")


if __name__ == "__main__":
    data_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
    base = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    os.makedirs(data_dir, exist_ok=True)
    texts, labels = make_reviews(TRAIN_ROWS, base * 7919 + 17)
    model = make_pipeline().fit(texts, labels)
    with open(model_path(data_dir), "wb") as f:
        pickle.dump(model, f)
    print(f"lr-serving: model trained on {TRAIN_ROWS} reviews, train accuracy {model.score(texts, labels):.3f}")
