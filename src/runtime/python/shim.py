"""Entry point of the Hivelab Python runtime shim: /usr/bin/python3 /opt/hivelab/runtime/python/shim.py

The logic lives in hivelab_shim.py because a script is compiled from source on every start (about
1.3 ms of cold start here), while an imported module is loaded from the __pycache__ that the build
(scripts/copy-assets.mjs) precompiles.
"""
from hivelab_shim import main

main()
