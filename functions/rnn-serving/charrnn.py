# A character-level Elman RNN in numpy: the model behind rnn-serving. Small on purpose (trained at
# set-up in seconds), but a real recurrent network: tanh hidden state, softmax over characters,
# trained with backpropagation through time and Adam.
import numpy as np

ALPHABET = ".abcdefghijklmnopqrstuvwxyz"  # "." starts and ends every name
INDEX = {c: i for i, c in enumerate(ALPHABET)}
V = len(ALPHABET)


def init(hidden, seed):
    rnd = np.random.default_rng(seed)
    s = 0.1
    return {"Wxh": rnd.normal(0, s, (V, hidden)), "Whh": rnd.normal(0, s, (hidden, hidden)), "bh": np.zeros(hidden),
            "Why": rnd.normal(0, s, (hidden, V)), "by": np.zeros(V)}


def encode(names):
    """Pads names to one batch: inputs start with ".", targets end with "."; mask marks real steps."""
    T = max(len(n) for n in names) + 1
    x = np.zeros((len(names), T), dtype=np.int64)
    y = np.zeros((len(names), T), dtype=np.int64)
    mask = np.zeros((len(names), T))
    for b, name in enumerate(names):
        ids = [INDEX[c] for c in name]
        x[b, 1:len(ids) + 1] = ids
        y[b, :len(ids)] = ids
        mask[b, :len(ids) + 1] = 1
    return x, y, mask


def loss_and_grads(p, x, y, mask):
    B, T = x.shape
    H = p["Whh"].shape[0]
    hs = np.zeros((T + 1, B, H))
    probs = np.zeros((T, B, V))
    loss = 0.0
    for t in range(T):
        hs[t + 1] = np.tanh(p["Wxh"][x[:, t]] + hs[t] @ p["Whh"] + p["bh"])
        logits = hs[t + 1] @ p["Why"] + p["by"]
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs[t] = e / e.sum(axis=1, keepdims=True)
        loss -= (np.log(probs[t][np.arange(B), y[:, t]] + 1e-12) * mask[:, t]).sum()
    g = {k: np.zeros_like(v) for k, v in p.items()}
    dh_next = np.zeros((B, H))
    n = mask.sum()
    for t in reversed(range(T)):
        dlogits = probs[t].copy()
        dlogits[np.arange(B), y[:, t]] -= 1
        dlogits *= mask[:, t:t + 1] / n
        g["Why"] += hs[t + 1].T @ dlogits
        g["by"] += dlogits.sum(axis=0)
        dh = dlogits @ p["Why"].T + dh_next
        draw = dh * (1 - hs[t + 1] ** 2)
        g["bh"] += draw.sum(axis=0)
        np.add.at(g["Wxh"], x[:, t], draw)
        g["Whh"] += hs[t].T @ draw
        dh_next = draw @ p["Whh"].T
    for v in g.values():
        np.clip(v, -5, 5, out=v)
    return loss / n, g


def train(names, hidden=64, epochs=40, batch=64, lr=0.01, seed=0):
    p = init(hidden, seed)
    m = {k: np.zeros_like(v) for k, v in p.items()}
    s = {k: np.zeros_like(v) for k, v in p.items()}
    rnd = np.random.default_rng(seed)
    step, loss = 0, float("nan")
    for _ in range(epochs):
        order = rnd.permutation(len(names))
        for i in range(0, len(names), batch):
            loss, g = loss_and_grads(p, *encode([names[j] for j in order[i:i + batch]]))
            step += 1
            for k in p:  # Adam
                m[k] = 0.9 * m[k] + 0.1 * g[k]
                s[k] = 0.999 * s[k] + 0.001 * g[k] ** 2
                p[k] -= lr * (m[k] / (1 - 0.9 ** step)) / (np.sqrt(s[k] / (1 - 0.999 ** step)) + 1e-8)
    return p, float(loss)


def sample(p, prefix, max_len, temperature, rnd):
    """Continues `prefix` one character at a time until "." or max_len."""
    h = np.zeros(p["Whh"].shape[0])
    out = ""
    tokens = [INDEX["."]] + [INDEX[c] for c in prefix]
    for i, tok in enumerate(tokens):
        h = np.tanh(p["Wxh"][tok] + h @ p["Whh"] + p["bh"])
        if i > 0:
            out += ALPHABET[tok]
    while len(out) < max_len:
        logits = (h @ p["Why"] + p["by"]) / temperature
        e = np.exp(logits - logits.max())
        tok = int(rnd.choice(V, p=e / e.sum()))
        if tok == INDEX["."]:
            break
        out += ALPHABET[tok]
        h = np.tanh(p["Wxh"][tok] + h @ p["Whh"] + p["bh"])
    return out
