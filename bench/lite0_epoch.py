"""One training epoch of the CPU reference backbone (EfficientNet-Lite0, real ImageNet weights) on the real
`cxr5-mini` training split, on this CPU: images/s with the body frozen (stage 1) and unfrozen (stage 2), from the
pre-resize cache and from the original files. Needs `../shared/data/cxr5-mini` and `lung-fastai weights import`.

    python bench/lite0_epoch.py              # the study's size (160 px)
    python bench/lite0_epoch.py --size 224
"""
import argparse, os, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
import torch
from _common import machine
from lung_fastai.core import TrainConfig, project_root
from lung_fastai.data import check_dataset
from lung_fastai.preprocess import cache_dataset
from lung_fastai.models import backbone_dataloaders, cxr_learner, import_weights, weights_home

def epoch_ips(report, size, frozen, bs=32):
    cfg = TrainConfig(arch='efficientnet_lite0', size=size, bs=bs, norm='backbone', num_workers=os.cpu_count(), seed=0)
    learn = cxr_learner(backbone_dataloaders(report, cfg), cfg)
    learn.freeze() if frozen else learn.unfreeze()
    n = len(learn.dls.train)*bs
    with learn.no_bar(), learn.no_logging():
        learn.fit(1, 1e-4)                       # warm-up epoch (worker start, allocator)
        t = time.perf_counter(); learn.fit(1, 1e-4); dt = time.perf_counter() - t
    return n/dt, dt

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--size', type=int, default=160)
    ap.add_argument('--data', default=str(project_root().parent/'shared'/'data'/'cxr5-mini'))
    a = ap.parse_args()
    if not Path(a.data).is_dir(): sys.exit(f'{a.data} not found: this benchmark needs the cxr5-mini set (../shared/data)')
    if not (weights_home()/'tf_efficientnet_lite0.in1k'/'model.safetensors').is_file(): import_weights('efficientnet_lite0')
    os.environ['HF_HUB_OFFLINE'] = '1'
    native = check_dataset(a.data)
    cache = Path(tempfile.mkdtemp())/'cache'
    cache_dataset(native, cache, max_size=256, progress=False)
    cached = check_dataset(cache)
    print(machine()); print(f'EfficientNet-Lite0 at {a.size}px, batch 32, {torch.get_num_threads()} threads, '
                            f'{(native.files.split == "train").sum()} training images (cxr5-mini); 2nd epoch timed')
    base = None
    for name, rep in (('cache 256 px', cached), ('original files', native)):
        for frozen in (True, False):
            ips, dt = epoch_ips(rep, a.size, frozen)
            base = base or ips
            print(f"{name:15s} {'stage 1 (body frozen)' if frozen else 'stage 2 (unfrozen)   '} {dt:6.1f} s/epoch {ips:6.1f} img/s  x{ips/base:.2f}")
