"""Inference throughput: ONNX Runtime vs PyTorch eager, and channels_last vs the default memory format.

The same run folder (a tiny ConvNeXt trained on phantoms by this script, or RUN_DIR given as the first argument),
the same preprocessed batch, batch size 32, best of 5 repetitions. Images per second on this machine's CPU (or GPU
for the PyTorch rows when one is present).
"""
import sys, tempfile
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
import torch
from _common import machine
from lung_fastai.core import timed_steps

def make_run()->Path:
    from lung_fastai.core import TrainConfig
    from lung_fastai.data import check_dataset
    from lung_fastai.synth import make_phantoms
    from lung_fastai.train import train
    tmp = Path(tempfile.mkdtemp())
    rep = check_dataset(make_phantoms(tmp/'data', per_class=8, size=96, seed=0))
    cfg = TrainConfig(arch='tiny_convnext', pretrained=False, size=128, num_workers=0, freeze_epochs=1, epochs=1, out=str(tmp/'run'))
    return train(cfg, report=rep, show_progress=False).run_dir

if __name__ == '__main__':
    from lung_fastai.inference import Predictor
    from lung_fastai.deploy import export_onnx, OnnxPredictor
    run = Path(sys.argv[1]) if len(sys.argv) > 1 else make_run()
    pred = Predictor(run)
    s, bs = pred.spec['image_size'], 32
    x = torch.randn(bs, 3, s, s)
    export_onnx(run, check_images=None)
    onnx = OnnxPredictor(run)
    eager = timed_steps(lambda: pred.predict_batch(x), repeats=5)
    pred.model.to(memory_format=torch.channels_last)
    cl = timed_steps(lambda: pred.predict_batch(x.contiguous(memory_format=torch.channels_last)), repeats=5)
    ort = timed_steps(lambda: onnx.predict_batch(x), repeats=5)
    print(machine())
    print(f"{pred.spec['arch']} at {s}px, batch {bs}")
    for name, t in (('PyTorch eager', eager), ('PyTorch channels_last', cl), ('ONNX Runtime (CPU)', ort)):
        print(f"{name:24s} {bs/t:8.1f} images/s")
    print(f"ratio ONNX Runtime / eager:      {eager/ort:.2f}x")
    print(f"ratio channels_last / default:   {eager/cl:.2f}x")
