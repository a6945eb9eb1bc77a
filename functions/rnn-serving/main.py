# FunctionBench's rnn_serving: generates names with a character-level recurrent network (numpy),
# trained at set-up on generated names. Weights are loaded once per instance.
import os

import numpy as np

import charrnn
from inputmode import pick_input, size_param
from inputs import model_path

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
_params = None


def params():
    global _params
    if _params is None:
        with np.load(model_path(DATA)) as f:
            _params = {k: f[k] for k in f.files}
    return _params


def handler(event, context):
    inp = pick_input(event, context)
    event = event if isinstance(event, dict) else {}
    n = int(size_param(event, "n", 10, 100_000))
    max_len = int(size_param(event, "maxLen", 12, 64))
    temperature = float(size_param(event, "temperature", 0.7, 5))
    start = event.get("startLetters", "")
    if not isinstance(start, str) or any(c not in charrnn.ALPHABET[1:] for c in start):
        raise ValueError("startLetters must be lower-case letters a-z")
    rnd = np.random.default_rng(inp["seed"])
    p = params()
    # Like FunctionBench, each name may begin with a given letter; they take turns.
    names = [charrnn.sample(p, start[i % len(start)] if start else "", max_len, temperature, rnd) for i in range(n)]
    return {"names": names, "n": n, "maxLen": max_len, "temperature": temperature, "startLetters": start, "input": inp}
