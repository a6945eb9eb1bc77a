import numpy as np


def handler(event, context):
    values = event.get("values") if isinstance(event, dict) else None
    if not isinstance(values, list) or not values:
        raise ValueError('expected {"values": [numbers, ...]}')
    a = np.asarray(values, dtype=np.float64)
    return {
        "count": int(a.size),
        "mean": float(a.mean()),
        "std": float(a.std()),
        "min": float(a.min()),
        "max": float(a.max()),
        "numpy": np.__version__,
    }
