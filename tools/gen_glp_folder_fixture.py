#!/usr/bin/python3
"""gen_glp_folder_fixture.py — rep_statistics.pt for tests/fixtures/glp_folder:
the normalizer of tests/fixtures/glp/single/ref.safetensors saved by real
torch.save, so the folder loader is tested on the published file format.
Run with Debian's /usr/bin/python3 (python3-torch)."""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_io  # noqa: E402

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ref = st_io.load_numpy(os.path.join(root, "tests/fixtures/glp/single/ref.safetensors"), ["mean", "var"])
stats = {"mean": torch.from_numpy(ref["mean"]).float(),
         "var": torch.from_numpy(ref["var"]).float()}
torch.save(stats, os.path.join(root, "tests/fixtures/glp_folder/rep_statistics.pt"))
