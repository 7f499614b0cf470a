"""Per-step overhead of fastai's training loop over a plain PyTorch loop.

Same timm model (weights copied), same batches (one plain PyTorch DataLoader over in-memory tensors, used by both),
same optimizer (torch.optim.AdamW, lr 1e-3), fp32, CPU or the current GPU. fastai adds its callbacks (recorder,
smoothed loss, progress off) and one 1-batch validation per epoch, which the plain loop also runs.
"""
import copy, sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
import torch, timm
from torch.utils.data import DataLoader, TensorDataset
from fastai.learner import Learner
import fastai.callback.progress  # Learner.no_bar
from fastai.data.core import DataLoaders
from fastai.optimizer import OptimWrapper
from functools import partial
from _common import machine

def plain_epoch(model, opt, train_dl, valid_dl, loss_fn, device):
    model.train()
    for xb, yb in train_dl:
        xb, yb = xb.to(device), yb.to(device)
        loss = loss_fn(model(xb), yb); loss.backward(); opt.step(); opt.zero_grad()
    model.eval()
    with torch.no_grad():
        for xb, yb in valid_dl: loss_fn(model(xb.to(device)), yb.to(device))

def main(arch='test_convnext', n=512, bs=32, size=96, epochs=3):
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    torch.manual_seed(0)
    x, y = torch.randn(n, 3, size, size), torch.randint(0, 5, (n,))
    train_dl = DataLoader(TensorDataset(x, y), batch_size=bs)
    valid_dl = DataLoader(TensorDataset(x[:bs], y[:bs]), batch_size=bs)
    base = timm.create_model(arch, pretrained=False, num_classes=5)
    loss_fn = torch.nn.CrossEntropyLoss()
    m1 = copy.deepcopy(base).to(device); opt = torch.optim.AdamW(m1.parameters(), lr=1e-3)
    m2 = copy.deepcopy(base).to(device)
    learn = Learner(DataLoaders(train_dl, valid_dl, device=device), m2, loss_func=loss_fn,
                    opt_func=partial(OptimWrapper, opt=torch.optim.AdamW), lr=1e-3)
    def fastai_epoch():
        with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-3)
    plain_epoch(m1, opt, train_dl, valid_dl, loss_fn, device); fastai_epoch()   # warm-up
    times = {'plain': [], 'fastai': []}
    for _ in range(epochs):   # interleaved, so drift in machine load hits both alike
        for name, fn in (('plain', lambda: plain_epoch(m1, opt, train_dl, valid_dl, loss_fn, device)), ('fastai', fastai_epoch)):
            if device.type == 'cuda': torch.cuda.synchronize()
            t = time.perf_counter(); fn()
            if device.type == 'cuda': torch.cuda.synchronize()
            times[name].append(time.perf_counter() - t)
    steps = len(train_dl)
    p, f = min(times['plain'])/steps, min(times['fastai'])/steps
    print(machine())
    print(f"{arch}, {n} images of {size}px, batch {bs}, {steps} steps/epoch, best of {epochs} epochs")
    print(f"plain PyTorch: {p*1000:.1f} ms/step")
    print(f"fastai:        {f*1000:.1f} ms/step")
    print(f"fastai overhead: {100*(f/p - 1):+.1f}%  (goal: <= 5%)")

if __name__ == '__main__': main(*sys.argv[1:2])
