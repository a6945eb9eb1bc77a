# FunctionBench's video processing: converts a short H.264 clip to grayscale with ffmpeg (Debian's,
# invoked as a child process), then decodes the result to prove it has one channel and N frames.
# The output is FFV1 in Matroska: H.264 can encode 4:0:0, but ffmpeg's decoder hands it back as
# yuv420p, so only a codec whose decoder reports "gray" makes the one channel checkable.
import base64
import json
import os
import subprocess
import tempfile

import numpy as np

from inputmode import pick_input, size_param
from inputs import FFMPEG, HEIGHT, POOLED_FRAMES, WIDTH, make_clip, pool_path

FFPROBE = "/usr/bin/ffprobe"
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def run(args):
    return subprocess.run(args, check=True, capture_output=True).stdout


def handler(event, context):
    inp = pick_input(event, context)
    event = event if isinstance(event, dict) else {}
    frames = int(size_param(event, "frames", 25, 5000))
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        # Pooled clips hold POOLED_FRAMES frames; longer requests and fresh variants are encoded here.
        generated = not (inp["pooled"] and frames <= POOLED_FRAMES and event.get("seed", 1) == 1)
        src = os.path.join(tmp, "in.mp4") if generated else pool_path(DATA, inp["index"])
        if generated:
            make_clip(src, inp["index"], inp["seed"], frames)
        out = os.path.join(tmp, "gray.mkv")
        run([FFMPEG, "-hide_banner", "-loglevel", "error", "-y", "-i", src, "-frames:v", str(frames),
             "-vf", "format=gray", "-c:v", "ffv1", "-threads", "1", out])
        probe = json.loads(run([FFPROBE, "-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
                                "stream=width,height,pix_fmt,codec_name,nb_read_frames", "-of", "json", out]))["streams"][0]
        # Decode back to RGB: a grayscale video must have R == G == B everywhere (up to rounding).
        rgb = np.frombuffer(run([FFMPEG, "-hide_banner", "-loglevel", "error", "-i", out, "-f", "rawvideo",
                                 "-pix_fmt", "rgb24", "-"]), dtype=np.uint8).reshape(-1, HEIGHT, WIDTH, 3).astype(np.int16)
        delta = int(max(np.abs(rgb[..., 0] - rgb[..., 1]).max(), np.abs(rgb[..., 1] - rgb[..., 2]).max()))
        with open(out, "rb") as f:
            video = f.read()
    result = {
        "frames": int(probe["nb_read_frames"]),
        "decodedFrames": int(rgb.shape[0]),
        "width": int(probe["width"]),
        "height": int(probe["height"]),
        "pixFmt": probe["pix_fmt"],
        "codec": probe["codec_name"],
        "channels": 1 if probe["pix_fmt"].startswith("gray") else 3,
        "maxChannelDelta": delta,
        "lumaMean": round(float(rgb[..., 0].mean()), 2),
        "bytesOut": len(video),
        "generated": generated,
        "input": inp,
    }
    if event.get("returnVideo", False):
        result["video"] = base64.b64encode(video).decode()
    return result
