"""Lungs, not provenance: EfficientNet-Lite0 (real ImageNet weights) on cxr5-mini, whole film vs lung crop vs lung mask
vs lung crop with lung-masks' TB/normal training films mixed in, over several seeds. Resumable: finished runs are kept.

    python bench/lung_study.py [--seeds 0 1 2] [--arms film crop mask crop_mixed] [--work DIR]

Needs ../shared/data (cxr5-mini, cxr-real, lung-masks) and a lung segmenter in $LUNG_FASTAI_HOME/lungs
(`lung-fastai lungs train --data ../shared/data/lung-masks`). Writes DIR/<arm>-s<seed>/study.json per run and
bench/results/lung_study_cpu2.json with every run's figures."""
import argparse, json, os, shutil, sys, time, warnings
from pathlib import Path
import numpy as np, pandas as pd
from PIL import Image
sys.path.insert(0, str(Path(__file__).parent))
from _common import machine
from lung_fastai.core import TrainConfig, project_root, atomic_write_text
from lung_fastai.data import check_dataset, split_files, film_sources
from lung_fastai.preprocess import cache_dataset
from lung_fastai.models import import_weights
from lung_fastai.lungs import LungRegion, LungSegmenter, lung_region_report, lungs_home, read_lung_masks, LUNG_MARGIN

SHARED = project_root().parent/'shared'/'data'
RECIPE = dict(arch='efficientnet_lite0', size=160, bs=32, freeze_epochs=1, epochs=5, stage1_lr=3e-3, lr=5e-4,
              norm='backbone', num_workers=0, dedup='hash')   # the cxr5_mini tutorial's recipe (bench/_common.py)

def cxr5_cache(work:Path)->Path:
    "cxr5-mini pre-resized to 256 px once, with a manifest naming each film's source"
    cache = work/'cache'
    if not (cache/'cache.json').exists() or not json.loads((cache/'cache.json').read_text())['complete']:
        cache_dataset(check_dataset(SHARED/'cxr5-mini'), cache, max_size=256, progress=False)
    m = pd.read_csv(SHARED/'cxr5-mini'/'manifest.csv')
    src = m.patient_id.str.split(':').str[0]
    atomic_write_text(cache/'manifest.csv', pd.DataFrame(dict(file=m.file.map(lambda f: Path(f).name + ('' if f.endswith('.png') else '.png')),
                                                              source=src)).to_csv(index=False))
    return cache

def mixed_data(work:Path, cache:Path)->Path:
    "cxr5-mini (cached) plus lung-masks' train/val films (256 px) in the Tuberculosis and Normal classes"
    out = work/'mixed'
    if (out/'manifest.csv').exists(): return out
    tmp = work/'.mixed.tmp'
    shutil.rmtree(tmp, ignore_errors=True)
    for f in cache.rglob('*.png'):
        if f.parent == cache: continue
        d = tmp/f.relative_to(cache)
        d.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(f, d)
    lm = read_lung_masks(SHARED/'lung-masks')
    for r in lm[lm.split.isin(['train', 'val'])].itertuples():
        d = tmp/r.split/r.label/r.file
        d.parent.mkdir(parents=True, exist_ok=True)
        im = Image.open(r.path).convert('L')
        im.thumbnail((256, 256), Image.Resampling.LANCZOS)
        im.save(d)
    man = pd.concat([pd.read_csv(cache/'manifest.csv'), lm[['file', 'source']]])
    man.to_csv(tmp/'manifest.csv', index=False)
    tmp.rename(out)
    return out

def arm_data(arm:str, work:Path, cache:Path)->Path: return mixed_data(work, cache) if arm == 'crop_mixed' else cache
def arm_region(arm:str)->str: return {'film': 'film', 'crop': 'crop', 'mask': 'mask', 'crop_mixed': 'crop'}[arm]

def probes(arm:str, work:Path, cache:Path, seg_dir:Path)->list:
    "The shortcut probes (file facts, border frame) on the arm's own inputs; once per arm, not per seed"
    f = work/f'probes-{arm}.json'
    if f.exists(): return json.loads(f.read_text())
    from lung_fastai.audit import shortcut_audit
    report = check_dataset(arm_data(arm, work, cache))
    if arm_region(arm) != 'film': report = lung_region_report(report, LungRegion(seg_dir, arm_region(arm), LUNG_MARGIN))
    res = shortcut_audit(report, seed=0).to_dict('records')
    atomic_write_text(f, json.dumps(res, indent=2, default=float))
    return res

def one_run(arm:str, seed:int, work:Path, cache:Path, seg_dir:Path)->dict:
    from lung_fastai.train import train
    from lung_fastai.inference import Predictor
    from lung_fastai.evaluate import evaluate_run, evaluate_external, within_hospital
    from lung_fastai.gradcam import lung_localization
    out = work/f'{arm}-s{seed}'
    if (out/'study.json').exists(): return json.loads((out/'study.json').read_text())
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.time()
    data = arm_data(arm, work, cache)
    cfg = TrainConfig(**RECIPE, data=str(data), region=arm_region(arm), lungs=str(seg_dir), seed=seed, out=str(out))
    report = check_dataset(data)
    train(cfg, report=report, show_progress=False)
    t_train = time.time() - t0
    res = evaluate_run(out, report=check_dataset(cache), audit=False, n_boot=500)   # every arm tested on cxr5-mini's test split
    pred = Predictor(out, device='cpu')
    test, _ = pred.lung_check(split_files(check_dataset(cache), 'test'))
    cam = lung_localization(pred, test, LungSegmenter(seg_dir, 'cpu'))
    wh = within_hospital(out, SHARED/'lung-masks', n_boot=500)
    ext = evaluate_external(out, SHARED/'cxr-real', n_boot=500)
    h = res['headline']
    row = dict(arm=arm, seed=seed, region=cfg.region, train_s=round(t_train), total_s=round(time.time() - t0),
               n_test=res['n_images'], no_lungs_test=len(res.get('no_lungs', [])),
               accuracy=h['accuracy']['value'], accuracy_ci=h['accuracy']['ci95'],
               macro_f1=h['macro_f1']['value'], macro_f1_ci=h['macro_f1']['ci95'],
               per_source=res.get('per_source'),
               cam_lung_energy=cam['all']['gradcam']['energy'], cam_pointing=cam['all']['gradcam']['pointing'],
               centre_energy=cam['all']['centre_prior']['energy'], random_energy=cam['all']['random']['energy'],
               within_auroc=wh['overall']['auroc'], within_ci=wh['overall']['ci95'],
               within_per_source={s: r['auroc'] for s, r in wh['per_source'].items()},
               within_predicted_as=wh['predicted_as'],
               outside_n=ext['n_images'], outside_accuracy=ext['headline']['accuracy']['value'],
               outside_balanced_accuracy=ext['headline']['balanced_accuracy']['value'],
               outside_no_lungs=len(ext.get('no_lungs', [])))
    atomic_write_text(out/'study.json', json.dumps(row, indent=2, default=float))
    return row

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    ap.add_argument('--arms', nargs='+', default=['film', 'crop', 'mask', 'crop_mixed'])
    ap.add_argument('--work', default=str(Path.home()/'.cache'/'lung_fastai'/'bench'/'lung_study'))
    ap.add_argument('--lungs', default=str(lungs_home()), help='segmenter run folder')
    a = ap.parse_args()
    warnings.filterwarnings('ignore')
    os.environ.setdefault('HF_HUB_OFFLINE', '1')
    work, seg_dir = Path(a.work), Path(a.lungs)
    work.mkdir(parents=True, exist_ok=True)
    import_weights('efficientnet_lite0')
    cache = cxr5_cache(work)
    print(machine(), flush=True)
    rows = []
    for seed in a.seeds:   # seed-major: an interrupted study still has every arm at the seeds it finished
        for arm in a.arms:
            r = one_run(arm, seed, work, cache, seg_dir)
            rows.append(r)
            print(f"{arm:10s} seed {seed}: acc {r['accuracy']:.3f} F1 {r['macro_f1']:.3f} lung-energy "
                  f"{r['cam_lung_energy']:.3f} within-hospital AUROC {r['within_auroc']:.3f} outside acc "
                  f"{r['outside_accuracy']:.3f} ({r['total_s']} s)", flush=True)
    probe = {arm: probes(arm, work, cache, seg_dir) for arm in a.arms}
    seg_spec = json.loads((seg_dir/'model.json').read_text())
    out = dict(machine=machine(), recipe=RECIPE, segmenter={k: seg_spec[k] for k in ('arch', 'image_size', 'epochs', 'val_dice')},
               runs=rows, probes=probe)
    res_dir = project_root()/'bench'/'results'
    atomic_write_text(res_dir/'lung_study_cpu2.json', json.dumps(out, indent=2, default=float))
    print(summary(out).to_string())

def summary(study:dict)->pd.DataFrame:
    "Per arm: mean ± sd over seeds of each figure, and the probes"
    df = pd.DataFrame(study['runs'])
    cols = ['accuracy', 'macro_f1', 'cam_lung_energy', 'cam_pointing', 'within_auroc', 'outside_accuracy']
    g = df.groupby('arm', sort=False)[cols]
    t = g.mean().round(3).astype(str) + ' ± ' + g.std(ddof=1).round(3).astype(str)
    t.insert(0, 'seeds', g.size())
    for arm, pr in study['probes'].items():
        for p in pr: t.loc[arm, p['probe']] = round(p['balanced_accuracy'], 3) if 'balanced_accuracy' in p else None
    return t

if __name__ == '__main__': main()
