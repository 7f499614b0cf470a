"""Epoch time when training from native-size images vs from the pre-resize cache.

Large native images (here 1400-px phantoms, like the dataset's 2000-px radiographs) are decoded and resized on every
epoch; the cache (`lung_fastai.preprocess.cache_dataset`) does that once. Same model, size, batch size and seed.
"""
import sys, tempfile
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
from _common import machine
from lung_fastai.core import TrainConfig, set_seed, timed_steps
from lung_fastai.data import check_dataset
from lung_fastai.synth import make_phantoms
from lung_fastai.preprocess import cache_dataset
from lung_fastai.models import backbone_dataloaders, cxr_learner

def epoch_time(report, size=128):
    cfg = TrainConfig(arch='tiny_convnext', pretrained=False, size=size, bs=16, num_workers=0, norm='backbone')
    set_seed(0)
    learn = cxr_learner(backbone_dataloaders(report, cfg), cfg)
    def one_epoch():
        with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-3)
    return timed_steps(one_epoch, repeats=2)

if __name__ == '__main__':
    tmp = Path(tempfile.mkdtemp())
    root = make_phantoms(tmp/'native', per_class=12, size=1400, seed=0)
    native = check_dataset(root)
    res = cache_dataset(native, tmp/'cache', max_size=256, progress=False)
    cached = check_dataset(tmp/'cache')
    t_native, t_cache = epoch_time(native), epoch_time(cached)
    print(machine())
    print(f"{len(native.files)} images, native longest side ~1400-1700 px, cache 256 px, training at 128 px, tiny_convnext, CPU")
    print(f"epoch from native images: {t_native:.2f} s")
    print(f"epoch from the cache:     {t_cache:.2f} s")
    print(f"ratio native/cache:       {t_native/t_cache:.1f}x")
