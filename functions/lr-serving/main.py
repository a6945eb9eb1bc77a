# FunctionBench's model serving: classifies N reviews with the TF-IDF + logistic-regression model
# trained at set-up. The model is loaded once per instance (on the first invocation), so the cold
# start pays for unpickling scikit-learn and the warm path only for prediction.
import os
import pickle

from inputmode import pick_input, size_param
from inputs import model_path
from reviews import LABELS, make_reviews

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
_model = None


def model():
    global _model
    if _model is None:
        with open(model_path(DATA), "rb") as f:
            _model = pickle.load(f)
    return _model


def handler(event, context):
    inp = pick_input(event, context)
    n = int(size_param(event, "n", 16, 100_000))
    event = event if isinstance(event, dict) else {}
    if isinstance(event.get("reviews"), list):
        texts, truth = [str(t) for t in event["reviews"]], [None] * len(event["reviews"])
    else:
        # Without label noise: the truth here is what the words say, so accuracy measures the model.
        texts, truth = make_reviews(n, inp["seed"], label_noise=0.0)
    m = model()
    labels = m.predict(texts)
    probs = m.predict_proba(texts).max(axis=1)
    preds = [{"text": t, "label": str(l), "probability": round(float(p), 4), "truth": y}
             for t, l, p, y in zip(texts, labels, probs, truth)]
    return {"predictions": preds, "labels": list(LABELS), "classes": [str(c) for c in m.classes_], "input": inp}
