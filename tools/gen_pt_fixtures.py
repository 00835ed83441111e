"""gen_pt_fixtures.py — small torch.save files for the engine/torchpt.c reader and
config.yaml examples for engine/glpconfig.c.

Run from the repository root with the Debian interpreter (python3-torch, python3-yaml):
    /usr/bin/python3 tools/gen_pt_fixtures.py

Writes tests/fixtures/pt/NAME.pt (each a dict {"mean": t, "var": t} written by the
real torch.save) and tests/fixtures/pt/expected.safetensors holding the expected
values as F32 under "NAME.mean" / "NAME.var" (contiguous, converted exactly: every
source dtype widens to float32 without rounding, except f64 which is rounded the
same way the C reader does, by a plain cast). Deterministic: fixed seed, fixed
archive names.
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_io  # noqa: E402

OUT = "tests/fixtures/pt"
CFG = "tests/fixtures/glp_config"


def save(name, d, expected):
    path = os.path.join(OUT, name + ".pt")
    # torch.save names the archive folder after the file stem; keep it explicit
    # through the file name so that the fixtures are reproducible.
    torch.save(d, path)
    for k, v in d.items():
        expected[name + "." + k] = v.detach().to(torch.float32).contiguous().numpy()


def rewrite_zip64(src, dst):
    """Re-packs a torch.save archive with every size and offset in ZIP64 extra
    fields (APPNOTE 4.5.3) and ZIP64 end records, as writers do past 4 GiB, so
    that the reader's ZIP64 path is tested on a small file."""
    import struct
    import zipfile
    with zipfile.ZipFile(src) as z:
        items = [(i.filename.replace(os.path.basename(src)[:-3], os.path.basename(dst)[:-3], 1), z.read(i.filename))
                 for i in z.infolist()]
    out, central = bytearray(), bytearray()
    for name, data in items:
        nb = name.encode()
        off = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034b50, 45, 0, 0, 0, 0, 0, len(data), len(data), len(nb), 0) + nb + data
        extra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), off)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, 45, 45, 0, 0, 0, 0, 0, 0xFFFFFFFF, 0xFFFFFFFF,
                               len(nb), len(extra), 0, 0, 0, 0, 0xFFFFFFFF) + nb + extra
    cd = len(out)
    out += central
    rec = len(out)
    out += struct.pack("<IQHHIIQQQQ", 0x06064b50, 44, 45, 45, 0, 0, len(items), len(items), len(central), cd)
    out += struct.pack("<IIQI", 0x07064b50, 0, rec, 1)
    out += struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    with open(dst, "wb") as f:
        f.write(out)


def main():
    os.makedirs(OUT, exist_ok=True)
    os.makedirs(CFG, exist_ok=True)
    g = torch.Generator().manual_seed(1234)
    r = lambda *s: torch.randn(*s, generator=g)  # noqa: E731
    exp = {}
    save("single_f32", {"mean": r(16), "var": r(16).abs() + 0.5}, exp)
    save("multi_f32", {"mean": r(3, 16), "var": r(3, 16).abs() + 0.5}, exp)
    save("single_f16", {"mean": r(16).half(), "var": (r(16).abs() + 0.5).half()}, exp)
    save("multi_bf16", {"mean": r(3, 16).bfloat16(), "var": (r(3, 16).abs() + 0.5).bfloat16()}, exp)
    save("single_f64", {"mean": r(16).double(), "var": (r(16).abs() + 0.5).double()}, exp)
    # Views: torch.save keeps the whole storage plus offset and strides.
    base = r(16, 3)
    save("view_transposed", {"mean": base.t(), "var": base[:, 1]}, exp)
    big = r(5, 20)
    save("view_sliced", {"mean": big[1:4, 2:18], "var": big[4, 3:19]}, exp)
    # Both tensors sharing one storage (the same key appears twice).
    shared = r(2, 16)
    save("shared_storage", {"mean": shared[0], "var": shared[1]}, exp)
    # An OrderedDict at top level and a tensor saved with requires_grad.
    from collections import OrderedDict
    save("ordered", OrderedDict([("mean", r(16)), ("var", r(16).requires_grad_())]), exp)
    save("scalar0d", {"mean": torch.tensor(2.5), "var": r(0)}, exp)
    rewrite_zip64(os.path.join(OUT, "single_f32.pt"), os.path.join(OUT, "zip64.pt"))
    exp["zip64.mean"], exp["zip64.var"] = exp["single_f32.mean"], exp["single_f32.var"]
    st_io.save(os.path.join(OUT, "expected.safetensors"), exp)

    configs = {
        "single.yaml": """model_name: meta-llama/Llama-3.2-1B
glp_kwargs:
  normalizer_config:
    rep_statistic: data/rep_statistics.pt
  denoiser_config:
    d_input: 2048
    d_model: 4096
    d_mlp: 8192
    n_layers: 6
    multi_layer_n_layers: null
  tracedict_config:
    layer_prefix: model.layers
    layers: [7]
    retain: output
lr: 5.0e-05
""",
        "defaults.yaml": """glp_kwargs:
  denoiser_config:
    d_input: 64
    n_layers: 2
  tracedict_config:
    layer_prefix: model.layers
    layers:
      - 3
    retain: output
""",
        "multi.yaml": """model_name: "meta-llama/Llama-3.1-8B"
glp_kwargs:
  denoiser_config:
    d_input: 16
    d_model: 32
    d_mlp: 64
    n_layers: 3
    multi_layer_n_layers: 3
  tracedict_config:
    layer_prefix: model.layers
    layers: [0, 2, 4]
    retain: output
""",
    }
    for name, text in configs.items():
        with open(os.path.join(CFG, name), "w") as f:
            f.write(text)
    import yaml  # check that every example is valid YAML
    for name in configs:
        with open(os.path.join(CFG, name)) as f:
            yaml.safe_load(f)


if __name__ == "__main__":
    main()
