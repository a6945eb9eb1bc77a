# The model rnn-serving loads: set-up runs this file (`python3 inputs.py`) to generate a list of
# names from a syllable grammar and train the character RNN on it, saving data/rnn.npz.
import os
import random
import sys
import time

import numpy as np

import charrnn

# The "language" of the generated names. The catalogue's validator checks that sampled names mostly
# parse as these syllables, which an untrained or broken network would not produce.
SYLLABLES = ["ka", "ri", "to", "mi", "na", "lo", "sa", "ve", "den", "mar", "el", "an", "jo", "li", "ra", "bo"]


def make_names(n, seed):
    rnd = random.Random(seed)
    names = set()
    while len(names) < n:
        names.add("".join(rnd.choice(SYLLABLES) for _ in range(rnd.randrange(2, 4))))
    return sorted(names)


def model_path(data_dir):
    return os.path.join(data_dir, "rnn.npz")


if __name__ == "__main__":
    data_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
    base = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    os.makedirs(data_dir, exist_ok=True)
    started = time.time()
    names = make_names(2000, base)
    params, loss = charrnn.train(names, seed=base)
    np.savez(model_path(data_dir), **params)
    print(f"rnn-serving: trained on {len(names)} names, final loss {loss:.3f}, {time.time() - started:.1f}s")
