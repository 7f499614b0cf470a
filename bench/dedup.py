"""The duplicate audit, measured: (1) recall of Keras-style augmented copies planted in `cxr5-mini` and the false
pairs among distinct patients, hash vs embedding search side by side; (2) the audit's wall time and peak memory on
10,000 images (the Kaggle set's size; synthetic: augmented copies of real films at their own sizes) on this CPU.
Needs `../shared/data/cxr5-mini` and Lite0's weights (`lung-fastai weights import`).

    python bench/dedup.py                  # both parts
    python bench/dedup.py --n 2000         # a quicker timing
    python bench/dedup.py --skip-timing    # the planted measurement only
"""
import argparse, json, resource, shutil, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
import numpy as np, pandas as pd, torch
from _common import machine
from lung_fastai.core import project_root, atomic_write_text
from lung_fastai.data import check_dataset, load_cxr
from lung_fastai.audit import plant_copies, find_duplicates, score_planted, keras_copy

MINI = project_root().parent/'shared'/'data'/'cxr5-mini'

def patients()->dict:
    m = pd.read_csv(MINI/'manifest.csv')
    return dict(zip(m.file.map(lambda f: Path(f).name), m.patient_id))

def planted_measurement(tmp:Path, n:int, seed:int)->pd.DataFrame:
    root = Path(shutil.copytree(MINI/'Lung Disease Dataset', tmp/'planted'/'Lung Disease Dataset'))
    planted = plant_copies(root, n=n, seed=seed)
    report, rows = check_dataset(root), {}
    for method in ('hash', 'embedding', 'both'):
        t = time.perf_counter(); pairs = find_duplicates(report, method)
        rows[method] = dict(**score_planted(pairs, planted, patients()), seconds=round(time.perf_counter() - t, 1))
    return pd.DataFrame(rows).T

def synthetic_set(tmp:Path, n:int, seed:int=0)->Path:
    "`n` Keras-style copies of cxr5-mini films at their own sizes, in the Kaggle layout (70/15/15 split)"
    rng, src = np.random.default_rng(seed), check_dataset(MINI).files.reset_index(drop=True)
    root = tmp/'synthetic'/'Lung Disease Dataset'
    for k in range(n):
        s = src.iloc[k % len(src)]
        split = 'train' if k % 20 < 14 else 'val' if k % 20 < 17 else 'test'
        (root/split/s.label).mkdir(parents=True, exist_ok=True)
        keras_copy(load_cxr(s.path), rng).save(root/split/s.label/f'{split}_{k}_{rng.integers(10_000)}.jpeg', quality=90)
    return root

def timing(tmp:Path, n:int)->dict:
    t = time.perf_counter(); root = synthetic_set(tmp, n); made = time.perf_counter() - t
    t = time.perf_counter(); report = check_dataset(root); check = time.perf_counter() - t
    out = dict(images=len(report.files), make_s=round(made, 1), check_s=round(check, 1))
    for method in ('hash', 'embedding'):
        t = time.perf_counter(); pairs = find_duplicates(report, method)
        out[f'{method}_s'] = round(time.perf_counter() - t, 1); out[f'{method}_pairs'] = len(pairs)
    out['peak_rss_gb'] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/2**20, 2)
    return out

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--n', type=int, default=10_000, help='images in the timing set')
    ap.add_argument('--planted', type=int, default=150, help='copies planted in cxr5-mini')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--skip-timing', action='store_true'); ap.add_argument('--skip-planted', action='store_true')
    ap.add_argument('--out', default='bench/results/dedup_cpu.json')
    a = ap.parse_args()
    if not MINI.is_dir(): sys.exit(f'{MINI} is not here: nothing to measure')
    print(machine(), f'| torch threads {torch.get_num_threads()}')
    res = dict(machine=machine())
    with tempfile.TemporaryDirectory() as d:
        if not a.skip_planted:
            df = planted_measurement(Path(d), a.planted, a.seed)
            print(f'\n{a.planted} Keras-style copies planted in cxr5-mini (447 films):\n{df.to_string()}')
            res['planted'] = df.to_dict('index')
        if not a.skip_timing:
            t = timing(Path(d), a.n); res['timing'] = t
            print(f"\n{t['images']} images: hash audit {t['hash_s']} s, embedding search {t['embedding_s']} s "
                  f"({(t['hash_s'] + t['embedding_s'])/60:.1f} min together), peak RSS {t['peak_rss_gb']} GB "
                  f"(dataset check {t['check_s']} s; making the set {t['make_s']} s, not part of the audit)")
    atomic_write_text(a.out, json.dumps(res, indent=1, default=float))
