"""The duplicate audit, measured: (1) per copy generator (Keras with nearest/black/reflect fill, torchvision
`RandomAffine`/`RandomRotation` with `fill=0`, albumentations-style shift-scale-rotate, random resized crop, gamma,
CLAHE, PNG), recall of 40 copies planted in `cxr5-mini` and the reported pairs joining distinct patients, with the
threshold fixed once; every distinct-patient candidate's score, for the calibration; (2) the audit's wall time and
peak memory on 10,000 films (cxr5-mini's films and augmented copies of them, all generators in turn, at their own
sizes) on this CPU, one decode per film, with the three-decode path timed on a 1,000-film subset for the ratio.
Needs `../shared/data/cxr5-mini` and Lite0's weights (`lung-fastai weights import`).

    python bench/dedup.py                  # both parts
    python bench/dedup.py --n 2000         # a quicker timing
    python bench/dedup.py --skip-timing    # the planted measurement only
"""
import argparse, json, os, resource, shutil, sys, tempfile, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
import numpy as np, pandas as pd, torch
from _common import machine
from lung_fastai.core import project_root, atomic_write_text
from lung_fastai.data import check_dataset, load_cxr, DataReport
from lung_fastai.audit import (COPY_GENERATORS, plant_copies, find_duplicates, candidate_checks, scan_films,
                               score_planted, augmented_copy, hash_pairs, neighbour_pairs, match_films, film_print,
                               frozen_features, _equalised)

MINI = project_root().parent/'shared'/'data'/'cxr5-mini'
GROUPS = [list(COPY_GENERATORS)[:5], list(COPY_GENERATORS)[5:]]   # 5 × 40 copies fit in the 266 training films

def patients()->dict:
    m = pd.read_csv(MINI/'manifest.csv')
    return dict(zip(m.file.map(lambda f: Path(f).name), m.patient_id))

def per_generator(tmp:Path, n:int, seed:int)->tuple:
    "Recall and false pairs per generator; every distinct-patient candidate pair's check, for the calibration"
    who, rows, distinct, diag = patients(), {}, [], []
    for g, gens in enumerate(GROUPS):
        root = Path(shutil.copytree(MINI/'Lung Disease Dataset', tmp/f'planted{g}'/'Lung Disease Dataset'))
        planted = plant_copies(root, n=n*len(gens), seed=seed + g, generator=gens)
        report = check_dataset(root)
        t = time.perf_counter()
        scanned = scan_films(report.files.path)
        checks = candidate_checks(report, scanned=scanned)
        hashed = hash_pairs(report.files, scanned[0])
        secs = time.perf_counter() - t
        reported = pd.concat([hashed, checks[checks['copy'].astype(bool)].drop(columns='copy')], ignore_index=True)
        reported = reported.drop_duplicates(['path_a', 'path_b'])
        copy_of = {Path(r.copy).name: Path(r.source).name for r in planted.itertuples()}
        origin = lambda p: copy_of.get(Path(p).name, Path(p).name)
        for name in gens:
            mine = planted[planted.generator == name]
            names = {Path(c).name for c in mine['copy']}
                # the reported pairs that involve this generator's copies
            own = reported[[Path(a).name in names or Path(b).name in names
                            for a, b in zip(reported.path_a, reported.path_b)]]
            rows[name] = dict(**score_planted(own, mine, who), group=g)
        idx = {p: i for i, p in enumerate(report.files.path)}
        near = {k: {tuple(q) for q in neighbour_pairs(scanned[1], k)} for k in (10, 20, 40)}
        checked = {(r.path_a, r.path_b): r for r in checks.itertuples()}
        for r in planted.itertuples():   # why a copy was missed: not a neighbour at k=10, or the verifier's reason
            ij = tuple(sorted((idx[r.source], idx[r.copy])))
            c = checked.get((report.files.path[ij[0]], report.files.path[ij[1]]))
            diag.append(dict(generator=r.generator, **{f'neighbour_k{k}': ij in near[k] for k in near},
                             copy=bool(c.copy) if c is not None else False, why=c.why if c is not None else '',
                             ncc=c.ncc if c is not None else np.nan, inliers=c.inliers if c is not None else np.nan))
        orig = [(origin(a) == Path(a).name) and (origin(b) == Path(b).name) for a, b in zip(checks.path_a, checks.path_b)]
        d = checks[np.array(orig, bool) & (checks.path_a.map(lambda p: who[origin(p)]) != checks.path_b.map(lambda p: who[origin(p)]))]
        distinct.append(d.assign(group=g))
        allscore = score_planted(reported, planted, who)
        rows[f'all of group {g}'] = dict(**allscore, group=g, seconds=round(secs, 1))
    return pd.DataFrame(rows).T, pd.concat(distinct, ignore_index=True), pd.DataFrame(diag)

def synthetic_set(tmp:Path, n:int, seed:int=0)->Path:
    "cxr5-mini's films, then augmented copies of them (generators in turn) up to `n`, Kaggle layout (70/15/15 split)"
    src = check_dataset(MINI).files.reset_index(drop=True)
    root, gens = tmp/'synthetic'/'Lung Disease Dataset', list(COPY_GENERATORS)
    def one(k):
        s, rng = src.iloc[k % len(src)], np.random.default_rng(seed + k)
        split = 'train' if k % 20 < 14 else 'val' if k % 20 < 17 else 'test'
        (root/split/s.label).mkdir(parents=True, exist_ok=True)
        if k < len(src): return shutil.copy(s.path, root/split/s.label/Path(s.path).name)
        c = augmented_copy(load_cxr(s.path), rng, gens[k % len(gens)])
        c.save(root/split/s.label/f"{split}_{k}.{'png' if c.format == 'PNG' else 'jpeg'}", format=c.format)
    with ThreadPoolExecutor(2) as ex: list(ex.map(one, range(n)))
    return root

def three_decodes(files:pd.DataFrame)->float:
    "The former path: hashes, embeddings and prints each decode every film (the same computations otherwise)"
    t = time.perf_counter()
    scans, _ = scan_films(files.path, embed=False, prints=False)
    x = frozen_features(files.path, view=_equalised, mirror=True)
    with ThreadPoolExecutor(2) as ex: prints = list(ex.map(film_print, files.path))
    cand = neighbour_pairs(x/np.linalg.norm(x, axis=1, keepdims=True))
    with ThreadPoolExecutor(2) as ex: list(ex.map(lambda p: match_films(prints[p[0]], prints[p[1]]), cand))
    hash_pairs(files, scans)
    return time.perf_counter() - t

def timing(tmp:Path, n:int)->dict:
    out0 = dict(loadavg_start=os.getloadavg())
    t = time.perf_counter(); root = synthetic_set(tmp, n); made = time.perf_counter() - t
    t = time.perf_counter(); report = check_dataset(root); check = time.perf_counter() - t
    out = dict(**out0, images=len(report.files), make_s=round(made, 1), check_s=round(check, 1),
               set='cxr5-mini films + augmented copies of them (all generators in turn), at their own sizes')
    sub = report.files.sample(min(1000, len(report.files)), random_state=0)
    t = time.perf_counter(); find_duplicates(DataReport(report.root, sub, []), 'both')
    out['subset_one_decode_s'] = round(time.perf_counter() - t, 1)
    out['subset_three_decodes_s'] = round(three_decodes(sub), 1)
    out['subset_n'] = len(sub)
    out['loadavg_before'] = os.getloadavg()
    # find_duplicates(report, 'both'), step by step to say where the time goes
    t0 = time.perf_counter(); scanned = scan_films(report.files.path)
    t1 = time.perf_counter(); hashed = hash_pairs(report.files, scanned[0])
    t2 = time.perf_counter(); checks = candidate_checks(report, scanned=scanned)
    t3 = time.perf_counter()
    out['loadavg_after'] = os.getloadavg()
    out.update(audit_s=round(t3 - t0, 1), scan_s=round(t1 - t0, 1), hash_pairs_s=round(t2 - t1, 1),
               checks_s=round(t3 - t2, 1), candidates=len(checks), hash_pairs=len(hashed),
               embedding_pairs=int(checks['copy'].astype(bool).sum()))
    out['peak_rss_gb'] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/2**20, 2)
    return out

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--n', type=int, default=10_000, help='images in the timing set')
    ap.add_argument('--planted', type=int, default=40, help='copies planted per generator')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--skip-timing', action='store_true'); ap.add_argument('--skip-planted', action='store_true')
    ap.add_argument('--out', default='bench/results/dedup_cpu.json')
    a = ap.parse_args()
    if not MINI.is_dir(): sys.exit(f'{MINI} is not here: nothing to measure')
    print(machine(), f'| torch threads {torch.get_num_threads()}')
    res = json.loads(Path(a.out).read_text()) if Path(a.out).exists() else {}
    res['machine'] = machine()
    with tempfile.TemporaryDirectory() as d:
        if not a.skip_planted:
            df, distinct, diag = per_generator(Path(d), a.planted, a.seed)
            miss = diag.groupby('generator')[['neighbour_k10', 'neighbour_k20', 'neighbour_k40', 'copy']].sum()
            miss['ncc_min_confirmed'] = diag[diag['copy']].groupby('generator').ncc.min()
            miss['inliers_min_confirmed'] = diag[diag['copy']].groupby('generator').inliers.min()
            print(f'\nper generator: copies among the candidates at k = 10/20/40, and confirmed:\n{miss.to_string()}')
            lost = diag[diag.neighbour_k10 & ~diag['copy']]
            print(f'\ncandidates the verifier rejected:\n{lost[["generator", "why"]].to_string()}')
            res['misses'] = dict(by_generator=miss.to_dict('index'), rejected=lost[['generator', 'why']].to_dict('records'))
            print(f'\n{a.planted} copies per generator planted in cxr5-mini (447 films):\n{df.to_string()}')
            top = distinct.nlargest(5, 'ncc')[['ncc', 'inliers', 'why']]
            print(f'\n{len(distinct)} distinct-patient candidate pairs; highest NCC:\n{top.to_string()}')
            res['generators'] = df.to_dict('index')
            res['distinct_patients'] = dict(candidates=len(distinct), passed=int(distinct['copy'].astype(bool).sum()),
                                            ncc_max=float(distinct.ncc.max()),
                                            top=top.to_dict('records'))
            res.pop('planted', None)
        if not a.skip_timing:
            t = timing(Path(d), a.n); res['timing'] = t
            print(f"\n{t['images']} images: audit (hash + embedding, one decode) {t['audit_s']} s, peak RSS "
                  f"{t['peak_rss_gb']} GB; {t['subset_n']} films: one decode {t['subset_one_decode_s']} s vs three "
                  f"{t['subset_three_decodes_s']} s; loadavg {t['loadavg_before']} -> {t['loadavg_after']}")
    atomic_write_text(a.out, json.dumps(res, indent=1, default=float))
