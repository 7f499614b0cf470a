"Shared helpers for the benchmark scripts (not part of the library)."
import os, platform, time
import torch

def machine()->str:
    "One line describing where the numbers came from"
    dev = torch.cuda.get_device_name() if torch.cuda.is_available() else 'CPU only'
    return f"{platform.node()} | {platform.processor() or platform.machine()} | {os.cpu_count()} cores | torch {torch.__version__} | {dev}"

def timed(fn, repeat:int=3)->float:
    "Best wall time of `repeat` calls of `fn` (seconds)"
    best = float('inf')
    for _ in range(repeat):
        t = time.perf_counter(); fn(); best = min(best, time.perf_counter() - t)
    return best
