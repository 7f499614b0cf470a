"""Loader images/s: the file path (decode + resize every film, every epoch) against the tensor cache (page Tensors).

On `../shared/data/cxr5-mini` pre-resized to 256 px (as the GPU study's loader was measured), at 224 px, batch 32, one
training epoch drawn whole, in one run on this machine. `--device cuda` puts the batches (and so the batch
augmentation) on the GPU, as training does; on a CPU both paths augment on the CPU.
"""
import argparse, json, os, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
import torch
from _common import machine
from lung_fastai.core import project_root, atomic_write_text
from lung_fastai.data import check_dataset, cxr_dataloaders
from lung_fastai.preprocess import cache_dataset
from lung_fastai.tensors import tensor_cache, tensor_dataloaders

def images_per_s(dl, epochs:int=2)->float:
    "Training images per second drawing `epochs` whole epochs from `dl` (the first includes worker start-up)"
    n, t = 0, time.perf_counter()
    for _ in range(epochs):
        for xb, yb in dl: n += len(xb)
    if xb.device.type == 'cuda': torch.cuda.synchronize()
    return n/(time.perf_counter() - t)

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--device', default='cpu'); p.add_argument('--size', type=int, default=224)
    p.add_argument('--bs', type=int, default=32); p.add_argument('--workers', type=int, default=os.cpu_count())
    p.add_argument('--out', default=str(Path(__file__).parent/'results'/'data_path_cpu2.json'))
    a = p.parse_args()
    data = project_root().parent/'shared'/'data'/'cxr5-mini'
    if not data.is_dir(): sys.exit(f'{data} is not here: this benchmark reads the real films beside the repository')
    tmp = Path(tempfile.mkdtemp())
    cache_dataset(check_dataset(data), tmp/'resized', max_size=256, progress=False)
    rep = check_dataset(tmp/'resized')
    t = time.perf_counter()
    tc = tensor_cache(rep, a.size, home=tmp/'tc')
    build_s = time.perf_counter() - t
    dev = torch.device(a.device)
    rows = {}
    for name, dls in [(f'files, {a.workers} workers', cxr_dataloaders(rep, size=a.size, bs=a.bs, num_workers=a.workers, device=dev)),
                      ('files, 0 workers', cxr_dataloaders(rep, size=a.size, bs=a.bs, num_workers=0, device=dev)),
                      ('tensor cache, 0 workers', tensor_dataloaders(tc, bs=a.bs, num_workers=0, device=dev))]:
        rows[name] = round(images_per_s(dls.train), 1)
        print(f'{name:28s} {rows[name]:8.1f} images/s', flush=True)
    best_files = max(v for k, v in rows.items() if k.startswith('files'))
    res = dict(machine=machine(), data=f'cxr5-mini, {len(rep.files)} films pre-resized to 256 px', size=a.size,
               bs=a.bs, device=a.device, images_per_s=rows, cache_build_s=round(build_s, 1),
               cache_mb=round(tc.images.nbytes/2**20, 1),
               ratio_cache_over_best_files=round(rows['tensor cache, 0 workers']/best_files, 2),
               loadavg=os.getloadavg())
    print(f"tensor cache written once in {build_s:.1f} s ({res['cache_mb']} MB); "
          f"cache / best file path: {res['ratio_cache_over_best_files']}x")
    atomic_write_text(a.out, json.dumps(res, indent=1))
