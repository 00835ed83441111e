"""torch_threads.py — import torch with its thread pools sized as metascope's
(OpenBLAS and OpenMP pools must be sized before torch is imported; passive
waiting so idle workers do not steal the measured side's cores)."""
import os


def import_torch(threads):
    for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        os.environ.setdefault(k, str(threads))
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    return torch
