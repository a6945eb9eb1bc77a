# FunctionBench's model training: fits a TF-IDF + logistic-regression review classifier
# (scikit-learn) on N reviews, checks it on a held-out fifth, and writes the model to /tmp
# (FunctionBench uploads it to object storage; returnModel=true sends it back instead).
import base64
import os
import pickle

from inputmode import pick_input, size_param
from inputs import POOLED_ROWS, pool_path, read_pool
from reviews import LABELS, make_pipeline, make_reviews

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def handler(event, context):
    inp = pick_input(event, context)
    event = event if isinstance(event, dict) else {}
    rows = int(size_param(event, "rows", 2000, 200_000))
    if rows < 20:
        raise ValueError("rows must be at least 20 (a fifth is held out)")
    generated = not (inp["pooled"] and rows <= POOLED_ROWS and event.get("seed", 1) == 1)
    texts, labels = make_reviews(rows, inp["seed"]) if generated else read_pool(pool_path(DATA, inp["index"]), rows)
    cut = rows * 4 // 5
    model = make_pipeline().fit(texts[:cut], labels[:cut])
    train_acc = float(model.score(texts[:cut], labels[:cut]))
    test_acc = float(model.score(texts[cut:], labels[cut:]))
    blob = pickle.dumps(model)
    path = os.path.join("/tmp", f"lr-model-{os.getpid()}.pkl")
    with open(path, "wb") as f:
        f.write(blob)
    result = {
        "rows": rows,
        "trainRows": cut,
        "testRows": rows - cut,
        "vocabulary": len(model.steps[0][1].vocabulary_),
        "classes": [str(c) for c in model.classes_],
        "labels": list(LABELS),
        "trainAccuracy": round(train_acc, 4),
        "testAccuracy": round(test_acc, 4),
        "modelPath": path,
        "modelBytes": len(blob),
        "generated": generated,
        "input": inp,
    }
    if event.get("returnModel", False):
        result["model"] = base64.b64encode(blob).decode()
    return result
