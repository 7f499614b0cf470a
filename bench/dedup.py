"""The duplicate audit, measured: (1) per copy generator (Keras with nearest/black/reflect fill, torchvision
`RandomAffine`/`RandomRotation` with `fill=0`, albumentations-style shift-scale-rotate, random resized crop, gamma,
CLAHE, PNG), recall of 40 copies planted in `cxr5-mini` and the reported pairs joining distinct patients, with the
thresholds fixed once; where each copy was lost (not a candidate — by descriptor votes, and by the former Lite0
embedding neighbours for comparison — or rejected, with the verifier's reason); every distinct-patient pair either
retrieval proposed, checked, for the calibration; the scan's time with and without the embedding; (2) the audit's
wall time, step by step, and peak memory on 10,000 films (cxr5-mini's films and augmented copies of them, all
generators in turn, at their own sizes) on this CPU. Needs `../shared/data/cxr5-mini`; Lite0's weights
(`lung-fastai weights import`) for the embedding comparison in (1).

    python bench/dedup.py                         # both parts
    python bench/dedup.py --n 2000                # a quicker timing
    python bench/dedup.py --skip-timing           # the planted measurement only
    python bench/dedup.py --set /tmp/syn10k       # keep (or reuse) the 10,000-film set there
"""
import argparse, json, os, resource, shutil, sys, tempfile, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
import numpy as np, pandas as pd, torch
from _common import machine
from lung_fastai.core import project_root, atomic_write_text
from lung_fastai.data import check_dataset, load_cxr, DataReport
from lung_fastai.audit import (COPY_GENERATORS, PAIR_COLUMNS, plant_copies, candidate_checks, scan_films, score_planted,
                               augmented_copy, hash_pairs, neighbour_pairs, match_films, copy_verdict, descriptor_votes,
                               vote_pairs)

MINI = project_root().parent/'shared'/'data'/'cxr5-mini'
GROUPS = [list(COPY_GENERATORS)[:5], list(COPY_GENERATORS)[5:]]   # 5 × 40 copies fit in the 266 training films

def patients()->dict:
    m = pd.read_csv(MINI/'manifest.csv')
    return dict(zip(m.file.map(lambda f: Path(f).name), m.patient_id))

def per_generator(tmp:Path, n:int, seed:int)->tuple:
    "Recall and false pairs per generator; where each copy was lost; every distinct-patient candidate pair, checked"
    who, rows, distinct, diag = patients(), {}, [], []
    for g, gens in enumerate(GROUPS):
        root = Path(shutil.copytree(MINI/'Lung Disease Dataset', tmp/f'planted{g}'/'Lung Disease Dataset'))
        planted = plant_copies(root, n=n*len(gens), seed=seed + g, generator=gens)
        report = check_dataset(root)
        t = time.perf_counter()
        scanned = scan_films(report.files.path)
        t_scan = time.perf_counter() - t
        checks = candidate_checks(report, scanned=scanned)
        hashed = hash_pairs(report.files, scanned[0])
        secs = time.perf_counter() - t
        t = time.perf_counter(); _, x = scan_films(report.files.path, embed=True); t_embed = time.perf_counter() - t
        reported = pd.concat([hashed, checks[checks['copy'].astype(bool)][PAIR_COLUMNS]], ignore_index=True)
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
        idx, paths = {p: i for i, p in enumerate(report.files.path)}, list(report.files.path)
        votes = descriptor_votes([s.print for s in scanned[0]])
        near = {f'votes_k{k}': {(a, b) for a, b in zip(*vote_pairs(votes, k)[['i', 'j']].values.T)} for k in (1, 3, 5)}
        near |= {f'embedding_k{k}': {tuple(q) for q in neighbour_pairs(x, k)} for k in (10, 20)}
        checked = {(r.path_a, r.path_b): r for r in checks.itertuples()}
        for r in planted.itertuples():   # why a copy was missed: not a candidate, or the verifier's reason
            ij = tuple(sorted((idx[r.source], idx[r.copy])))
            c = checked.get((paths[ij[0]], paths[ij[1]]))
            diag.append(dict(generator=r.generator, **{k: ij in v for k, v in near.items()},
                             copy=bool(c.copy) if c is not None else False, why=c.why if c is not None else '',
                             ncc=c.ncc if c is not None else np.nan, local_ncc=c.local_ncc if c is not None else np.nan,
                             inliers=c.inliers if c is not None else np.nan))
        # calibration: every distinct-patient pair that either retrieval proposed, checked
        pool = near['votes_k5'] | near['embedding_k10']
        pool = [(i, j) for i, j in pool if origin(paths[i]) == Path(paths[i]).name and origin(paths[j]) == Path(paths[j]).name
                and who[origin(paths[i])] != who[origin(paths[j])]]
        with ThreadPoolExecutor(2) as ex:
            ms = list(ex.map(lambda p: match_films(scanned[0][p[0]].print, scanned[0][p[1]].print), pool))
        distinct.append(pd.DataFrame([dict(group=g, ncc=m['ncc'], local_ncc=m['local_ncc'], inliers=m['inliers'],
                                           copy=v[0], why=v[1]) for m in ms for v in [copy_verdict(m)]]))
        allscore = score_planted(reported, planted, who)
        rows[f'all of group {g}'] = dict(**allscore, group=g, seconds=round(secs, 1), candidates=len(checks),
                                         scan_s=round(t_scan, 1), scan_with_embedding_s=round(t_embed, 1),
                                         embedding_candidates_k10=len(near['embedding_k10']))
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

def timing(tmp:Path, n:int, keep:str|None=None)->dict:
    out0 = dict(loadavg_start=os.getloadavg())
    t, root = time.perf_counter(), Path(keep or tmp)/'synthetic'/'Lung Disease Dataset'
    made = len(list(root.rglob('*.*'))) >= n if keep and root.is_dir() else False
    if not made: root = synthetic_set(Path(keep or tmp), n)
    made_s = time.perf_counter() - t
    t = time.perf_counter(); report = check_dataset(root); check = time.perf_counter() - t
    out = dict(**out0, images=len(report.files), make_s=round(made_s, 1), reused_set=made, check_s=round(check, 1),
               set='cxr5-mini films + augmented copies of them (all generators in turn), at their own sizes')
    out['loadavg_before'] = os.getloadavg()
    # find_duplicates(report, 'both'), step by step to say where the time goes
    cpu = lambda: sum(resource.getrusage(resource.RUSAGE_SELF)[:2])   # user + system seconds, both cores
    c0, t0 = cpu(), time.perf_counter(); scanned = scan_films(report.files.path)
    t1 = time.perf_counter(); hashed = hash_pairs(report.files, scanned[0])
    t2 = time.perf_counter(); votes = descriptor_votes([s.print for s in scanned[0]]); cand = vote_pairs(votes)
    t3 = time.perf_counter(); checks = candidate_checks(report, scanned=scanned)   # votes again, then the checks
    t4, c4 = time.perf_counter(), cpu()
    out['loadavg_after'] = os.getloadavg()
    out['cpu_s'] = round(c4 - c0 - (t3 - t2), 1)   # less the votes' second run (~ its wall time: one thread)
    out.update(audit_s=round(t1 - t0 + t2 - t1 + t4 - t3, 1), scan_s=round(t1 - t0, 1), hash_pairs_s=round(t2 - t1, 1),
               votes_s=round(t3 - t2, 1), votes_and_checks_s=round(t4 - t3, 1), checks_s=round(t4 - t3 - (t3 - t2), 1),
               candidates=len(checks), vote_pairs=len(cand), hash_pairs=len(hashed),
               augmented_pairs=int(checks['copy'].astype(bool).sum()))
    out['peak_rss_gb'] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/2**20, 2)
    out.update(synthetic_scores(report.files, checks))
    return out

def synthetic_scores(files:pd.DataFrame, checks:pd.DataFrame)->dict:
    "On the timing set: copies confirmed with a film of their source, and confirmed pairs joining distinct patients"
    src, who = check_dataset(MINI).files.reset_index(drop=True), patients()
    def origin(p):   # synthetic_set names copy k `{split}_{k}`: a copy of source k mod len(src)
        stem = Path(p).stem.split('_')
        return Path(src.path[int(stem[1]) % len(src)]).name if len(stem) == 2 and stem[1].isdigit() else Path(p).name
    ok = checks[checks['copy'].astype(bool)]
    oa, ob = ok.path_a.map(origin), ok.path_b.map(origin)
    found = set(ok.path_a[oa == ob]) | set(ok.path_b[oa == ob])
    copies = [p for p in files.path if origin(p) != Path(p).name]
    return dict(copies=len(copies), copies_confirmed=sum(p in found for p in copies),
                confirmed_pairs=len(ok), false_pairs=int((oa.map(who) != ob.map(who)).sum()))

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--n', type=int, default=10_000, help='images in the timing set')
    ap.add_argument('--planted', type=int, default=40, help='copies planted per generator')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--skip-timing', action='store_true'); ap.add_argument('--skip-planted', action='store_true')
    ap.add_argument('--out', default='bench/results/dedup_cpu.json')
    ap.add_argument('--set', default=None, help='folder to keep (or reuse) the timing set in')
    a = ap.parse_args()
    if not MINI.is_dir(): sys.exit(f'{MINI} is not here: nothing to measure')
    print(machine(), f'| torch threads {torch.get_num_threads()}')
    res = json.loads(Path(a.out).read_text()) if Path(a.out).exists() else {}
    res['machine'] = machine()
    with tempfile.TemporaryDirectory() as d:
        if not a.skip_planted:
            df, distinct, diag = per_generator(Path(d), a.planted, a.seed)
            miss = diag.groupby('generator')[['votes_k1', 'votes_k3', 'votes_k5', 'embedding_k10', 'embedding_k20', 'copy']].sum()
            miss['ncc_min_confirmed'] = diag[diag['copy']].groupby('generator').ncc.min()
            miss['local_ncc_min_confirmed'] = diag[diag['copy']].groupby('generator').local_ncc.min()
            miss['inliers_min_confirmed'] = diag[diag['copy']].groupby('generator').inliers.min()
            print(f'\nper generator: copies among the candidates (votes k = 1/3/5, embedding k = 10/20), and confirmed:\n{miss.to_string()}')
            lost = diag[diag.votes_k3 & ~diag['copy']]
            print(f'\ncandidates the verifier rejected:\n{lost[["generator", "why"]].to_string()}')
            res['misses'] = dict(by_generator=miss.to_dict('index'), rejected=lost[['generator', 'why']].to_dict('records'))
            print(f'\n{a.planted} copies per generator planted in cxr5-mini (447 films):\n{df.to_string()}')
            top = distinct.nlargest(5, 'ncc')[['ncc', 'local_ncc', 'inliers', 'why']]
            top_local = distinct.nlargest(5, 'local_ncc')[['ncc', 'local_ncc', 'inliers', 'why']]
            print(f'\n{len(distinct)} distinct-patient candidate pairs; highest NCC:\n{top.to_string()}'
                  f'\nhighest local NCC:\n{top_local.to_string()}')
            res['generators'] = df.to_dict('index')
            res['distinct_patients'] = dict(candidates=len(distinct), passed=int(distinct['copy'].astype(bool).sum()),
                                            ncc_max=float(distinct.ncc.max()),
                                            local_ncc_max=float(distinct.local_ncc.max()),
                                            top=top.to_dict('records'), top_local=top_local.to_dict('records'))
            res.pop('planted', None)
        if not a.skip_timing:
            t = timing(Path(d), a.n, a.set); res['timing'] = t
            res['timing_runs'] = res.get('timing_runs', []) + [t]   # the machine is shared: every run, not the best
            print(f"\n{t['images']} images: audit {t['audit_s']} s (scan {t['scan_s']}, hash pairs {t['hash_pairs_s']}, "
                  f"votes {t['votes_s']}, checks {t['checks_s']} on {t['candidates']} candidates), peak RSS "
                  f"{t['peak_rss_gb']} GB; loadavg {t['loadavg_before']} -> {t['loadavg_after']}; copies confirmed "
                  f"{t['copies_confirmed']} / {t['copies']}, false pairs {t['false_pairs']} of {t['confirmed_pairs']}")
    atomic_write_text(a.out, json.dumps(res, indent=1, default=float))
