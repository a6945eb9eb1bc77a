# FunctionBench's image processing: decodes a JPEG, rotates it, re-encodes it (Pillow).
import base64
import io
import os

from PIL import Image

from inputmode import pick_input, size_param
from inputs import POOLED_SIZE, make_jpeg, pool_path

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def handler(event, context):
    inp = pick_input(event, context)
    event = event if isinstance(event, dict) else {}
    size = int(size_param(event, "size", POOLED_SIZE, 8192))
    angle = event.get("angle", 90)
    if angle not in (90, 180, 270):
        raise ValueError("angle must be 90, 180 or 270")
    # Pooled images come from disk (like FunctionBench's object-store read); others are built here.
    generated = not (inp["pooled"] and size == POOLED_SIZE and event.get("seed", 1) == 1)
    if generated:
        data = make_jpeg(size, inp["seed"])
    else:
        with open(pool_path(DATA, inp["index"]), "rb") as f:
            data = f.read()
    img = Image.open(io.BytesIO(data))
    img.load()
    rotated = img.rotate(angle, expand=True)  # counter-clockwise, like sharp's rotate(-angle)
    buf = io.BytesIO()
    rotated.save(buf, format="JPEG", quality=85)
    out = buf.getvalue()
    result = {
        "width": img.width,
        "height": img.height,
        "angle": angle,
        "rotatedWidth": rotated.width,
        "rotatedHeight": rotated.height,
        "bytesIn": len(data),
        "bytesOut": len(out),
        "generated": generated,
        "input": inp,
    }
    if event.get("returnImage", True):
        result["image"] = base64.b64encode(out).decode()
    return result
