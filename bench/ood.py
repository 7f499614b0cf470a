"""Out-of-distribution guard on real films: AUROC between cxr5-mini test films and outsiders, ours vs the usual scores.

EfficientNet-Lite0 (real ImageNet weights) fine-tuned on `../shared/data/cxr5-mini` (trained once by `_common`, ~3 min on
2 cores). Outsiders from `make_outsiders`: scikit-image's photos, blank and noise images, rendered text pages, CT/MR
slices from pydicom's test data, and 30 test films turned 90°. Scores compared, all fitted on the training split:
k-th nearest-neighbour cosine distance of the pooled body features (the guard, k=5), class-conditional Mahalanobis
(Ledoit-Wolf) on the same features and on the head's penultimate layer, and the energy score. Writes
`bench/results/ood_cxr5.json` and the figure `nbs/images/ood_cxr5.png`.
"""
import json, sys, tempfile
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
import numpy as np, torch
import matplotlib; matplotlib.use('Agg')
import matplotlib.pyplot as plt
from sklearn.covariance import LedoitWolf
from sklearn.metrics import roc_auc_score
from _common import machine, cxr5_lite0_run

def mahalanobis(train, y, x):
    means = np.stack([train[y == k].mean(0) for k in np.unique(y)])
    prec = LedoitWolf().fit(train - means[y]).precision_
    d = x[:, None] - means[None]
    return np.einsum('nkd,de,nke->nk', d, prec, d).min(1)

def penultimate_and_logits(pred, paths):
    xs = torch.stack([pred.preprocess(p) for p in paths])
    with torch.inference_mode():
        f = pred.model[1][:-1](pred.model[0](xs))
        return f.numpy(), pred.model[1][-1](f).numpy()

if __name__ == '__main__':
    from lung_fastai.data import split_files
    from lung_fastai.synth import make_outsiders
    from lung_fastai.inference import Predictor, fit_ood_guard, batch_features
    torch.set_num_threads(2)
    run, report = cxr5_lite0_run()
    pred = Predictor(run, device='cpu')
    tr, va, te = (split_files(report, s) for s in ('train', 'val', 'test'))
    guard = fit_ood_guard(pred, tr.path, va.path)
    outs = make_outsiders(Path(tempfile.mkdtemp()), rotate=list(te.path[:30]))
    paths, kinds = list(te.path) + list(outs.path), ['test film']*len(te) + list(outs.kind)
    is_out = np.array([k != 'test film' for k in kinds])
    feats, ftr = batch_features(pred, paths).numpy(), batch_features(pred, tr.path).numpy()
    ytr = np.array([pred.classes.index(l) for l in tr.label])
    pen, logits = penultimate_and_logits(pred, paths)
    pen_tr, _ = penultimate_and_logits(pred, tr.path)
    scores = {'kNN cosine, pooled features (the guard)': guard(torch.from_numpy(feats)).numpy(),
              'Mahalanobis, pooled features': mahalanobis(ftr, ytr, feats),
              'Mahalanobis, head penultimate': mahalanobis(pen_tr, ytr, pen),
              'energy (−logsumexp of logits)': -torch.logsumexp(torch.from_numpy(logits), 1).numpy()}
    auroc = {k: round(float(roc_auc_score(is_out, s)), 4) for k, s in scores.items()}
    s = scores['kNN cosine, pooled features (the guard)']
    flagged = {k: round(float((s[np.array(kinds) == k] > guard.threshold).mean()), 3) for k in dict.fromkeys(kinds)}
    res = dict(machine=machine(), run='efficientnet_lite0 160px, cxr5-mini (ImageNet start)', n_test=len(te),
               n_outsiders=int(is_out.sum()), outsiders=outs.kind.value_counts().to_dict(), auroc=auroc,
               threshold=guard.threshold, val_flagged=guard.info['val_flagged'], flagged_by_kind=flagged)
    print(json.dumps(res, indent=2))
    out = Path(__file__).parent/'results'/'ood_cxr5.json'; out.write_text(json.dumps(res, indent=2) + '\n')
    fig, ax = plt.subplots(figsize=(7, 3.2))
    order = list(dict.fromkeys(kinds))
    for i, k in enumerate(order):
        v = s[np.array(kinds) == k]
        ax.scatter(v, np.full(len(v), i) + np.random.default_rng(i).uniform(-.2, .2, len(v)), s=10, alpha=.7)
    ax.axvline(guard.threshold, color='k', ls='--', lw=1, label='threshold (5 % of val films flagged)')
    ax.set_yticks(range(len(order)), order); ax.set_xlabel('OOD score: cosine distance to the 5th nearest training film')
    ax.set_title(f"cxr5-mini Lite0: test films vs outsiders, AUROC {auroc['kNN cosine, pooled features (the guard)']:.3f}", fontsize=10)
    ax.legend(fontsize=8, loc='lower right'); fig.tight_layout()
    fig.savefig(Path(__file__).parents[1]/'nbs'/'images'/'ood_cxr5.png', dpi=90)
