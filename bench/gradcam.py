"""Grad-CAM cost per image relative to one forward+backward pass, batched vs one image at a time.

Same trained tiny run (made by this script, or RUN_DIR as first argument), 32 images, best of 3.
"""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
import torch
from _common import machine
from lung_fastai.core import timed_steps
from inference import make_run

if __name__ == '__main__':
    from lung_fastai.inference import Predictor
    from lung_fastai.gradcam import compute_cams, cam_target_layer
    from lung_fastai.models import get_backbone
    run = Path(sys.argv[1]) if len(sys.argv) > 1 else make_run()
    pred = Predictor(run, device='cpu')
    s, n = pred.spec['image_size'], 32
    x = torch.randn(n, 3, s, s)
    layer = cam_target_layer(pred.model, get_backbone(pred.spec['arch']).family)
    targets = [0]*n
    def fwd_bwd():
        xx = x.clone().requires_grad_(); pred.model.eval()(xx)[:, 0].sum().backward()
    base = timed_steps(fwd_bwd, repeats=3)
    batched = timed_steps(lambda: compute_cams(pred.model, x, layer, targets, bs=n), repeats=3)
    single = timed_steps(lambda: [compute_cams(pred.model, x[i:i+1], layer, targets[i:i+1]) for i in range(n)])
    print(machine())
    print(f"{pred.spec['arch']} at {s}px, {n} images")
    print(f"forward+backward, batched: {1000*base/n:7.2f} ms/image")
    print(f"Grad-CAM batched (bs {n}):  {1000*batched/n:7.2f} ms/image  ({batched/base:.2f}x a forward+backward)")
    print(f"Grad-CAM one by one:       {1000*single/n:7.2f} ms/image")
    print(f"ratio one-by-one / batched: {single/batched:.1f}x")
