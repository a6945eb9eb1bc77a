# FunctionBench's pyaes: encrypts then decrypts N KB of text with AES-128-CTR in pure Python
# (Debian python3-pyaes) and returns proof of the round trip (hashes, key, IV and the first bytes,
# so a caller can re-check the ciphertext with any other AES implementation).
import base64
import hashlib
import random

import pyaes

from inputmode import pick_input, size_param

WORDS = ["serverless", "snapshot", "cold", "warm", "instance", "memory", "page", "fault", "record",
         "prefetch", "latency", "tail", "function", "worker", "queue", "proxy"]


def make_text(size, seed):
    """Seeded pseudo-English text of exactly `size` bytes."""
    rnd = random.Random(seed)
    parts, length = [], 0
    while length <= size:  # length counts a space after every word, the joined text one fewer
        w = rnd.choice(WORDS)
        parts.append(w)
        length += len(w) + 1
    return " ".join(parts).encode()[:size]


def ctr(data, key, iv):
    # A fresh Counter each time: CTR encryption and decryption are the same keystream XOR.
    counter = pyaes.Counter(initial_value=int.from_bytes(iv, "big"))
    return pyaes.AESModeOfOperationCTR(key, counter=counter).encrypt(data)


def handler(event, context):
    inp = pick_input(event, context)
    kb = size_param(event, "kb", 16, 64 * 1024)
    plaintext = make_text(round(kb * 1024), inp["seed"])
    material = hashlib.sha256(f"aes-key:{inp['seed']}".encode()).digest()
    key, iv = material[:16], material[16:32]
    ciphertext = ctr(plaintext, key, iv)
    decrypted = ctr(ciphertext, key, iv)
    sha = lambda b: hashlib.sha256(b).hexdigest()
    return {
        "kb": kb,
        "bytes": len(plaintext),
        "impl": "pyaes",
        "keyHex": key.hex(),
        "ivHex": iv.hex(),
        "plaintextSha256": sha(plaintext),
        "ciphertextSha256": sha(ciphertext),
        "decryptedSha256": sha(decrypted),
        "roundTrip": decrypted == plaintext,
        "plaintextHead": base64.b64encode(plaintext[:64]).decode(),
        "ciphertextHead": base64.b64encode(ciphertext[:64]).decode(),
        "input": inp,
    }
