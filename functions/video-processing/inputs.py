# The clips video-processing works on, made with ffmpeg's test sources: set-up runs this file
# (`python3 inputs.py`) to fill data/ with the pooled variants; the handler calls make_clip itself
# for lengths or variants not pooled.
import os
import subprocess
import sys

from inputmode import POOL_SIZE, variant_seed

FFMPEG = "/usr/bin/ffmpeg"
# Pooled clips: 2 s of 320x240 at 25 fps, H.264 4:2:0 like a phone upload.
POOLED_FRAMES = 50
WIDTH, HEIGHT, RATE = 320, 240, 25
# One colourful source per pooled variant; fresh variants use the seeded Game of Life source.
SOURCES = ["testsrc2", "testsrc", "smptehdbars", "rgbtestsrc"]


def source_filter(index, seed, frames):
    duration = frames / RATE + 0.5
    if index < POOL_SIZE:
        return f"{SOURCES[index]}=size={WIDTH}x{HEIGHT}:rate={RATE}:duration={duration}"
    return f"life=size={WIDTH}x{HEIGHT}:rate={RATE}:seed={seed % 2**31}:mold=20:life_color=#ff8000:death_color=#0040ff,format=yuv420p"


def make_clip(path, index, seed, frames):
    """Encodes `frames` frames of variant `index` to `path` (H.264, yuv420p)."""
    subprocess.run(
        [FFMPEG, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", source_filter(index, seed, frames),
         "-frames:v", str(frames), "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-threads", "1", path],
        check=True,
    )


def pool_path(data_dir, index):
    return os.path.join(data_dir, f"clip-{index}.mp4")


if __name__ == "__main__":
    data_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
    base = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    os.makedirs(data_dir, exist_ok=True)
    for i in range(POOL_SIZE):
        make_clip(pool_path(data_dir, i), i, variant_seed(base, i), POOLED_FRAMES)
    print(f"video-processing: {POOL_SIZE} clips of {POOLED_FRAMES} frames {WIDTH}x{HEIGHT}")
