"""The fastai recipe, measured: EfficientNet-Lite0 (real ImageNet weights) on cxr5-mini — the plain two-stage schedule
at fixed rates vs learning rates from `lr_find` vs each regularisation switch alone vs the best combination, over
seeds. Resumable: finished runs are kept.

    python bench/recipe_study.py [--seeds 0 1 2] [--arms plain auto smooth ...] [--work DIR]

Each run is tested on cxr5-mini's test split (accuracy, macro-F1 with bootstrap CIs, ECE before temperature scaling)
and on lung-masks' within-hospital tuberculosis-vs-normal AUROC (page Lung fields). Needs ../shared/data. Writes
DIR/<arm>-s<seed>/study.json per run and bench/results/recipe_study_cpu2.json."""
import argparse, json, os, shutil, sys, time, warnings
from pathlib import Path
import pandas as pd
sys.path.insert(0, str(Path(__file__).parent))
from _common import machine
from lung_study import SHARED, RECIPE, cxr5_cache
from lung_fastai.core import TrainConfig, project_root, atomic_write_text
from lung_fastai.data import check_dataset
from lung_fastai.models import import_weights

ARMS = dict(plain={}, auto=dict(stage1_lr='auto', lr='auto'), smooth=dict(label_smoothing=0.1), mixup=dict(mixup=0.4),
            cutmix=dict(cutmix=1.0), progressive=dict(stage1_size=96), weights=dict(balance='weights'),
            sampler=dict(balance='sampler'))

def best_switches(rows:list)->dict:
    """The combination: every single switch whose mean macro-F1 over seeds beats the plain schedule's (one of
    MixUp/CutMix, one balance), or {} when none does"""
    df = pd.DataFrame(rows)
    f1 = df.groupby('arm').macro_f1.mean()
    wins = [a for a in ARMS if a != 'plain' and a in f1 and f1[a] > f1.get('plain', 1)]
    pick = lambda group: max((a for a in wins if a in group), key=f1.get, default=None)
    keep = [a for a in wins if a not in ('mixup', 'cutmix', 'weights', 'sampler')] + \
           [a for a in (pick(('mixup', 'cutmix')), pick(('weights', 'sampler'))) if a]
    return {k: v for a in keep for k, v in ARMS[a].items()}

def one_run(arm:str, switches:dict, seed:int, work:Path, cache:Path)->dict:
    from lung_fastai.train import train
    from lung_fastai.evaluate import evaluate_run, within_hospital
    out = work/f'{arm}-s{seed}'
    if (out/'study.json').exists(): return json.loads((out/'study.json').read_text())
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.time()
    cfg = TrainConfig(**{**RECIPE, **switches}, data=str(cache), seed=seed, out=str(out))
    train(cfg, report=check_dataset(cache), show_progress=False)
    t_train = time.time() - t0
    res = evaluate_run(out, report=check_dataset(cache), audit=False, n_boot=500)
    wh = within_hospital(out, SHARED/'lung-masks', n_boot=500)
    rec = json.loads((out/'recipe.json').read_text())
    h = res['headline']
    row = dict(arm=arm, switches=switches, seed=seed, train_s=round(t_train), total_s=round(time.time() - t0),
               n_test=res['n_images'], accuracy=h['accuracy']['value'], accuracy_ci=h['accuracy']['ci95'],
               macro_f1=h['macro_f1']['value'], macro_f1_ci=h['macro_f1']['ci95'], ece=h['ece']['value'],
               ece_calibrated=res['calibrated']['ece'], temperature=res['temperature'],
               lr_found={s: v['lr'] for s, v in rec['lr_find'].items()}, class_weights=rec['class_weights'],
               within_auroc=wh['overall']['auroc'], within_ci=wh['overall']['ci95'])
    atomic_write_text(out/'study.json', json.dumps(row, indent=2, default=float))
    return row

def summary(rows:list)->pd.DataFrame:
    "Per arm: mean ± sd over seeds of each figure"
    df = pd.DataFrame(rows)
    cols = ['accuracy', 'macro_f1', 'ece', 'within_auroc']
    g = df.groupby('arm', sort=False)[cols]
    t = g.mean().round(3).astype(str) + ' ± ' + g.std(ddof=1).round(3).astype(str)
    t.insert(0, 'seeds', g.size())
    return t

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    ap.add_argument('--arms', nargs='+', default=list(ARMS) + ['best'])
    ap.add_argument('--work', default=str(Path.home()/'.cache'/'lung_fastai'/'bench'/'recipe_study'))
    ap.add_argument('--saved-only', action='store_true', help='summarise the finished runs; train nothing')
    a = ap.parse_args()
    warnings.filterwarnings('ignore')
    os.environ.setdefault('HF_HUB_OFFLINE', '1')
    work = Path(a.work); work.mkdir(parents=True, exist_ok=True)
    import_weights('efficientnet_lite0')
    cache = cxr5_cache(work)
    print(machine(), flush=True)
    rows = []
    for seed in a.seeds:   # seed-major: an interrupted study has every arm at the seeds it finished
        for arm in [x for x in a.arms if x != 'best']:
            if a.saved_only and not (work/f'{arm}-s{seed}'/'study.json').exists(): continue
            rows.append(one_run(arm, ARMS[arm], seed, work, cache))
            r = rows[-1]
            print(f"{arm:12s} seed {seed}: acc {r['accuracy']:.3f} F1 {r['macro_f1']:.3f} ECE {r['ece']:.3f} "
                  f"within-hospital AUROC {r['within_auroc']:.3f} lr {r['lr_found'] or '-'} ({r['total_s']} s)", flush=True)
    best = best_switches(rows) if 'best' in a.arms else None
    if best:
        for seed in a.seeds:
            if a.saved_only and not (work/f'best-s{seed}'/'study.json').exists(): continue
            rows.append(one_run('best', best, seed, work, cache))
            print(f"best {best} seed {seed}: F1 {rows[-1]['macro_f1']:.3f}", flush=True)
    out = dict(machine=machine(), recipe=RECIPE, arms=ARMS, best=best, seeds=a.seeds, runs=rows)
    atomic_write_text(project_root()/'bench'/'results'/'recipe_study_cpu2.json', json.dumps(out, indent=2, default=float))
    print(summary(rows).to_string())

if __name__ == '__main__': main()
