"""Everything the full-size path needs measured on a CUDA GPU, in one call (issue 13). Random weights, synthetic images,
no network. Each part writes its results to `OUT/gpu_suite.json` as soon as it finishes, so a run cut short keeps what
it measured; `--parts` reruns only some parts.

    python bench/gpu_suite.py --out results/          # on a CUDA machine, ~6 min on an H100/H200
    python bench/gpu_suite.py --cpu-smoke --out /tmp/s # the same code paths on a CPU with tiny models (numbers meaningless)

Parts:
  mfu      `bench/gpu.py`: ConvNeXtV2-Tiny 224 px training images/s, fp32 vs bf16 vs fp16+scaler, ± channels_last, MFU
  compile  the same in bf16 + channels_last: eager vs `torch.compile`, batch 128 vs 256 (not in the default parts)
  seven    each registry backbone at its size and batch size: training images/s through the project's learner (bf16),
           eager from files and as a GPU run trains by default (compiled, tensor cache), the same model in a bare loop
           on GPU-resident tensors, inference images/s, peak GPU memory
  loader   DataLoader images/s from native-size films (1,700-2,600 px JPEG) vs from the pre-resize cache vs the
           tensor cache (batches augmented on the GPU)
  kernel   the Kaggle kernel notebook in smoke mode on the CUDA path, from a simulated /kaggle/input dataset
"""
import argparse, json, os, shutil, subprocess, sys, time, traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
import numpy as np, torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
T0 = time.perf_counter()

def log(*a): print(f'[{time.perf_counter()-T0:6.1f}s]', *a, flush=True)

def sync(dev):
    if dev.type == 'cuda': torch.cuda.synchronize()

# ---------------------------------------------------------------- part 1: bench/gpu.py
def part_mfu(dev, smoke):
    import timm, gpu
    arch, size, bs, warmup, steps = ('test_convnext', 64, 8, 1, 2) if smoke else ('convnextv2_tiny', 224, 128, 8, 25)
    torch.backends.cudnn.benchmark = True
    name = 'CPU' if smoke else torch.cuda.get_device_name()
    model = timm.create_model(arch, pretrained=False, num_classes=5).to(dev).train()
    flops = gpu.train_flops_per_image(model, size, dev)
    rows = []
    for precision in ('fp32', 'bf16', 'fp16'):
        if smoke and precision == 'fp16': continue   # CPU autocast has no fp16 GradScaler path
        for cl in (False, True):
            ips = gpu.images_per_s(model, size, bs, precision, cl, dev, warmup, steps)
            pk = None if smoke else gpu.peak(name, precision)
            rows.append(dict(arch=arch, size=size, bs=bs, precision=precision, channels_last=cl, images_per_s=ips,
                             tflops=ips*flops/1e12, peak_tflops=pk and pk/1e12, mfu=pk and ips*flops/pk))
            log(f"mfu {precision} cl={cl}: {ips:.1f} img/s" + (f", MFU {100*ips*flops/pk:.1f}%" if pk else ''))
    return dict(gflop_per_image_fwd_bwd=flops/1e9, rows=rows)

def part_compile(dev, smoke):
    "Where the missing MFU goes: eager vs `torch.compile`, batch 128 vs 256, bf16 + channels_last"
    import timm, gpu
    arch, size = ('test_convnext', 64) if smoke else ('convnextv2_tiny', 224)
    name = 'CPU' if smoke else torch.cuda.get_device_name()
    torch.backends.cudnn.benchmark = True
    rows = []
    for compiled in (False, True):
        for bs in ((8,) if smoke else (128, 256)):
            model = timm.create_model(arch, pretrained=False, num_classes=5).to(dev).train()
            flops = gpu.train_flops_per_image(model, size, dev)
            m = torch.compile(model) if compiled else model
            ips = gpu.images_per_s(m, size, bs, 'bf16', True, dev, 2 if smoke else 10, 2 if smoke else 25)
            pk = None if smoke else gpu.peak(name, 'bf16')
            rows.append(dict(arch=arch, bs=bs, compiled=compiled, images_per_s=ips, mfu=pk and ips*flops/pk))
            log('compile', rows[-1])
    return dict(rows=rows)

# ---------------------------------------------------------------- part 2: the seven backbones
def _timer_cb():
    "fastai callback: wall time and images of each epoch's training phase (GPU synchronised)"
    from fastai.callback.core import Callback
    class _T(Callback):
        order = 100
        def __init__(self): self.times, self.imgs = [], []
        def before_train(self): sync(self.dls.device); self.t, self.k = time.perf_counter(), 0
        def after_batch(self):
            if self.training: self.k += len(self.yb[0])
        def after_train(self): sync(self.dls.device); self.times.append(time.perf_counter() - self.t); self.imgs.append(self.k)
    return _T()

@torch.inference_mode()
def _infer_ips(model, size, bs, dev, steps, dtype):
    from lung_fastai.core import timed_steps
    model.eval(); x = torch.randn(bs, 3, size, size, device=dev)
    with torch.autocast(dev.type, dtype=dtype), torch.inference_mode():
        return bs*steps/timed_steps(lambda: model(x), steps, warmup=3, device=dev)

def _fast_learner(report, cfg, dev, smoke):
    "The learner as a GPU run trains by default: compiled (`CompileModel`), batches from the tensor cache"
    from dataclasses import replace
    from lung_fastai.models import backbone_dataloaders, cxr_learner, CompileModel
    cfg = replace(cfg, compile='aot_eager' if smoke else 'inductor', tensor_cache='on')
    dls = backbone_dataloaders(report, cfg, device=dev)
    timer = _timer_cb()
    learn = cxr_learner(dls, cfg, cbs=[timer])
    learn.unfreeze()
    if dev.type == 'cuda': torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats()
    with learn.no_bar(), learn.no_logging(): learn.fit(3, 1e-5)      # epoch 1 compiles (train and valid graphs)
    comp = learn.cbs.filter(lambda c: isinstance(c, CompileModel))[0].stats
    out = dict(fast_learner_train_images_per_s=timer.imgs[-1]/timer.times[-1], fast_first_epoch_s=timer.times[0],
               fast_compile_s=comp[0]['compile_s'] if comp else None)
    if dev.type == 'cuda': out['fast_peak_mem_gib'] = torch.cuda.max_memory_allocated()/2**30
    del learn, dls
    return out

def part_seven(dev, smoke, work, budget_s):
    from dataclasses import replace
    from lung_fastai.core import TrainConfig
    from lung_fastai.data import check_dataset
    from lung_fastai.synth import make_phantoms
    import gpu
    from lung_fastai.models import BACKBONES, resolve_config, backbone_dataloaders, cxr_learner
    keys = ['tiny_convnext', 'tiny_efficientnet', 'tiny_regnety'] if smoke else [k for k, b in BACKBONES.items() if not b.tiny and b.key in
            ('convnextv2_tiny', 'convnextv2_base', 'efficientnetv2_s', 'efficientnetv2_m', 'efficientnetv2_l', 'regnety_4gf', 'regnety_8gf')]
    # Phantoms a little above the largest training size, so decoding is cheap and the GPU is what is measured.
    root = make_phantoms(work/'phantoms-train', per_class=8 if smoke else 64, size=96 if smoke else 400, seed=0)
    report = check_dataset(root)
    torch.backends.cudnn.benchmark = True
    dtype = torch.bfloat16
    rows = []
    for key in keys:
        if time.perf_counter() - T0 > budget_s: log(f'seven: time budget reached, skipping {key}'); rows.append(dict(key=key, skipped='time')); continue
        b = BACKBONES[key]
        cfg = resolve_config(TrainConfig(arch=key, pretrained=False, norm='backbone', precision='fp32' if smoke else 'bf16',
                                         num_workers=0 if smoke else min(12, os.cpu_count()), seed=0))
        if smoke: cfg = replace(cfg, size=64, bs=8)
        row = dict(key=key, timm_name=b.timm_name, size=cfg.size, bs=cfg.bs)
        try:
            dls = backbone_dataloaders(report, cfg, device=dev)
            timer = _timer_cb()
            learn = cxr_learner(dls, cfg, cbs=[timer])
            learn.unfreeze()
            row['params_m'] = sum(p.numel() for p in learn.model.parameters())/1e6
            if dev.type == 'cuda': torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats()
            with learn.no_bar(), learn.no_logging(): learn.fit(2, 1e-5)
            row['learner_train_images_per_s'] = timer.imgs[-1]/timer.times[-1]    # second epoch: cuDNN autotuning done
            row['learner_first_epoch_s'] = timer.times[0]
            row.update(_fast_learner(report, cfg, dev, smoke))
            if dev.type == 'cuda':
                row['peak_mem_gib'] = torch.cuda.max_memory_allocated()/2**30
                row['peak_reserved_gib'] = torch.cuda.max_memory_reserved()/2**30
            model = learn.model
            del learn, dls
            if dev.type == 'cuda': torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats()
            model.train()
            # the model alone on GPU-resident tensors (no loader, no fastai): the ceiling for the learner
            row['bare_train_images_per_s'] = gpu.images_per_s(model, cfg.size, cfg.bs, 'bf16', False, dev, 3, 2 if smoke else 15)
            if dev.type == 'cuda':
                row['bare_peak_mem_gib'] = torch.cuda.max_memory_allocated()/2**30
            row['infer_images_per_s'] = _infer_ips(model, cfg.size, 2*cfg.bs, dev, 2 if smoke else 15, dtype)
            del model
        except Exception as e:
            row['error'] = f'{type(e).__name__}: {e}'; traceback.print_exc()
        if dev.type == 'cuda': torch.cuda.empty_cache()
        rows.append(row); log('seven', json.dumps(row))
    return dict(n_train_images=int((report.files.split == 'train').sum()), rows=rows)

# ---------------------------------------------------------------- part 3: loader vs GPU
def _native_film(args):
    "A phantom upscaled to a native film size, with film grain, saved as JPEG like most of the Kaggle set"
    base, path, hw, seed = args
    rng = np.random.default_rng(seed)
    im = Image.fromarray(base).resize(hw[::-1], Image.BICUBIC)
    a = np.asarray(im, dtype=np.float32) + rng.normal(0, 6, (hw[0], hw[1])).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).save(path, quality=92)

def make_native_dataset(out, per_class, lo, hi, seed=0):
    from lung_fastai.core import CLASSES
    from lung_fastai.synth import phantom
    rng, jobs = np.random.default_rng(seed), []
    bases = {c: [phantom(c, (512, 512), rng)[0] for _ in range(3)] for c in CLASSES}
    for split, n in (('train', per_class), ('val', max(2, per_class//4)), ('test', 2)):
        for c in CLASSES:
            for i in range(n):
                hw = (int(rng.integers(lo, hi)), int(rng.integers(lo, hi)))
                jobs.append((bases[c][i % 3], out/'Lung Disease Dataset'/split/c/f'{split}_{i:04d}.jpeg', hw, int(rng.integers(1e9))))
    with ThreadPoolExecutor(os.cpu_count()) as ex: list(ex.map(_native_film, jobs))
    return out/'Lung Disease Dataset'

def _loader_ips(report, size, workers, dev, bs=32, epochs=2, persistent=False):
    "Images/s of the training DataLoader in its last epoch (with `persistent`, workers outlive an epoch)"
    from lung_fastai.data import cxr_dataloaders
    kw = dict(persistent_workers=True) if persistent and workers else {}
    dls = cxr_dataloaders(report, size=size, bs=bs, num_workers=workers, device=dev, seed=0, **kw)
    dl, times, n = dls.train, [], 0
    for _ in range(epochs):
        sync(dev); t, n = time.perf_counter(), 0
        for xb, yb in dl: n += len(yb)
        sync(dev); times.append(time.perf_counter() - t)
    return n/times[-1]

def _tensor_loader_ips(report, size, dev, bs=32, epochs=2):
    "Images/s of the tensor-cache training loader in its last epoch, batches augmented on `dev` (page Tensors)"
    from lung_fastai.tensors import tensor_cache, tensor_dataloaders
    dl, times = tensor_dataloaders(tensor_cache(report, size, home=Path(report.root).parent/'tensor-cache'), bs=bs, device=dev, seed=0).train, []
    for _ in range(epochs):
        sync(dev); t, n = time.perf_counter(), 0
        for xb, yb in dl: n += len(yb)
        sync(dev); times.append(time.perf_counter() - t)
    return n/times[-1]

def part_loader(dev, smoke, work):
    from lung_fastai.data import check_dataset
    from lung_fastai.preprocess import cache_dataset
    lo, hi, per_class = (200, 300, 6) if smoke else (1700, 2600, 40)
    t = time.perf_counter()
    native = check_dataset(make_native_dataset(work/'native', per_class, lo, hi))
    log(f'loader: wrote {len(native.files)} native films in {time.perf_counter()-t:.1f}s')
    t = time.perf_counter()
    cache_dataset(native, work/'cache', max_size=256, progress=False)
    cache_s = time.perf_counter() - t
    cached = check_dataset(work/'cache')
    rows = []
    for workers in ([0] if smoke else [4, os.cpu_count()]):
        for name, rep in (('native', native), ('cache256', cached)):
            for persistent in ((False,) if smoke else (False, True)):
                ips = _loader_ips(rep, 64 if smoke else 224, workers, dev, bs=8 if smoke else 32, persistent=persistent,
                                  epochs=3 if persistent else 2)
                rows.append(dict(source=name, workers=workers, persistent=persistent, size=224, images_per_s=ips)); log('loader', rows[-1])
    rows.append(dict(source='tensor cache', workers=0, persistent=False, size=224,
                     images_per_s=_tensor_loader_ips(cached, 64 if smoke else 224, dev, bs=8 if smoke else 32))); log('loader', rows[-1])
    return dict(n_images=len(native.files), native_px=[lo, hi], cache_build_s=cache_s, cache_images_per_s=len(native.files)/cache_s,
                cpu_count=os.cpu_count(), rows=rows)

# ---------------------------------------------------------------- part 4: the Kaggle kernel on the CUDA path
RUNNER = r'''
import json, sys
nb = json.load(open(sys.argv[1]))
ns = {'__name__': '__main__'}
for i, c in enumerate(nb['cells']):
    if c['cell_type'] != 'code': continue
    print(f'--- kernel cell {i}', flush=True)
    exec(compile(''.join(c['source']), f'kernel-cell-{i}', 'exec'), ns)
import torch
print('KERNEL_DONE', json.dumps(dict(run_dir=str(ns['run_dir']), cuda=torch.cuda.is_available(),
      precision=getattr(ns.get('learn'), 'precision', None))), flush=True)
'''

def part_kernel(dev, smoke, work, out_dir=None):
    "Run the kernel's code cells in a fresh process with a simulated /kaggle/input dataset and internet off"
    from lung_fastai.synth import make_phantoms
    kin = Path('/kaggle/input') if not smoke else work/'kaggle'/'input'
    make_phantoms(kin/'lungs-disease-dataset-sim', per_class=12, size=160, seed=1)
    env = dict(os.environ, LUNG_FASTAI_SMOKE='1', HF_HUB_OFFLINE='1', MPLBACKEND='Agg', PYTHONUNBUFFERED='1',
               KAGGLE_KERNEL_RUN_TYPE='Batch')
    home = (work/'kaggle'/'working' if smoke else Path('/kaggle/working'))/'lung_fastai'
    shutil.rmtree(home, ignore_errors=True)   # a fresh kernel session: no run folder from an earlier call
    env['LUNG_FASTAI_HOME'] = str(home)
    # On the CPU the simulated mount is not at /kaggle/input, so point the resolver at it the documented way.
    if smoke: env['LUNG_FASTAI_DATASET'] = str(kin)
    (work/'run_kernel.py').write_text(RUNNER)
    t = time.perf_counter()
    p = subprocess.run([sys.executable, str(work/'run_kernel.py'), str(ROOT/'kaggle'/'lung-fastai-kaggle.ipynb')],
                       env=env, capture_output=True, text=True, timeout=300)
    out = p.stdout + p.stderr
    (work/'kernel.log').write_text(out)
    if out_dir: shutil.copy(work/'kernel.log', out_dir/'kernel.log')
    done = [l for l in out.splitlines() if l.startswith('KERNEL_DONE')]
    res = dict(rc=p.returncode, seconds=time.perf_counter() - t, tail=out[-3000:])
    if done:
        info = json.loads(done[-1].split(' ', 1)[1]); run = Path(info['run_dir'])
        res.update(info, files=dict(model=(run/'model.safetensors').is_file(), report=(run/'eval'/'report.html').is_file(),
                                   cam_grid=any((run/'cam').rglob('*.png')) if (run/'cam').is_dir() else False))
    log('kernel', {k: v for k, v in res.items() if k != 'tail'})
    return res

# ---------------------------------------------------------------- main
def env_info(dev):
    d = dict(torch=torch.__version__, cuda=torch.version.cuda, cpu_count=os.cpu_count(), python=sys.version.split()[0])
    if dev.type == 'cuda':
        d.update(gpu=torch.cuda.get_device_name(), capability=torch.cuda.get_device_capability(),
                 gpu_mem_gib=torch.cuda.get_device_properties(0).total_memory/2**30)
        try: d['driver'] = subprocess.run(['nvidia-smi', '--query-gpu=driver_version', '--format=csv,noheader'],
                                          capture_output=True, text=True).stdout.strip()
        except Exception: pass
    for m in ('fastai', 'timm', 'lung_fastai'):
        try: d[m] = __import__(m).__version__
        except Exception as e: d[m] = f'n/a ({e})'
    return d

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default=os.environ.get('OUT', 'bench/gpu_suite_out'), help='folder for gpu_suite.json and logs')
    ap.add_argument('--cpu-smoke', action='store_true', help='tiny models on the CPU: checks the code paths only')
    ap.add_argument('--parts', default='mfu,seven,loader,kernel', help='comma-separated subset of mfu,compile,seven,loader,kernel')
    ap.add_argument('--budget-s', type=float, default=420, help='skip remaining backbones after this many seconds')
    a = ap.parse_args()
    dev = torch.device('cpu' if a.cpu_smoke else 'cuda')
    if not a.cpu_smoke and not torch.cuda.is_available(): sys.exit('bench/gpu_suite.py needs a CUDA GPU (or --cpu-smoke)')
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    work = Path(os.environ.get('TMPDIR', '/tmp'))/'gpu_suite_work'; work.mkdir(parents=True, exist_ok=True)
    res_path = out/'gpu_suite.json'
    res = json.loads(res_path.read_text()) if res_path.exists() else {}
    res['env'] = env_info(dev); log(res['env'])
    parts = dict(mfu=lambda: part_mfu(dev, a.cpu_smoke), compile=lambda: part_compile(dev, a.cpu_smoke), seven=lambda: part_seven(dev, a.cpu_smoke, work, a.budget_s),
                 loader=lambda: part_loader(dev, a.cpu_smoke, work), kernel=lambda: part_kernel(dev, a.cpu_smoke, work, out))
    for name in a.parts.split(','):
        log(f'== {name}')
        try: res[name] = parts[name]()
        except Exception as e: res[name] = dict(error=f'{type(e).__name__}: {e}', trace=traceback.format_exc()); traceback.print_exc()
        res_path.write_text(json.dumps(res, indent=1, default=str))
    log('wrote', res_path)

if __name__ == '__main__': main()
