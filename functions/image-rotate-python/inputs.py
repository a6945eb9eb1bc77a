# The JPEGs image-rotate works on: set-up runs this file (`python3 inputs.py`) to fill data/ with the
# pooled variants; the handler calls make_jpeg itself for sizes or variants not pooled.
import io
import os
import random
import sys

from PIL import Image, ImageDraw

from inputmode import POOL_SIZE, variant_seed

# Width of the pooled images (height is 3/4 of it: landscape, so a rotation visibly swaps them).
POOLED_SIZE = 512


def dimensions(size):
    return int(size), max(1, round(size * 3 / 4))


def make_jpeg(size, seed):
    """A seeded landscape photo stand-in: gradient, random shapes, a red marker in the top-left corner."""
    w, h = dimensions(size)
    rnd = random.Random(seed)
    img = Image.linear_gradient("L").resize((w, h)).convert("RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(24):
        x0, y0 = rnd.randrange(w), rnd.randrange(h)
        x1, y1 = x0 + rnd.randrange(1, max(2, w // 3)), y0 + rnd.randrange(1, max(2, h // 3))
        color = (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256))
        (draw.ellipse if rnd.random() < 0.5 else draw.rectangle)([x0, y0, x1, y1], fill=color)
    draw.rectangle([0, 0, max(1, w // 8), max(1, h // 8)], fill=(255, 0, 0))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def pool_path(data_dir, index):
    return os.path.join(data_dir, f"image-{index}.jpg")


if __name__ == "__main__":
    data_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
    base = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    os.makedirs(data_dir, exist_ok=True)
    for i in range(POOL_SIZE):
        with open(pool_path(data_dir, i), "wb") as f:
            f.write(make_jpeg(POOLED_SIZE, variant_seed(base, i)))
    print(f"image-rotate-python: {POOL_SIZE} JPEGs of {dimensions(POOLED_SIZE)}")
