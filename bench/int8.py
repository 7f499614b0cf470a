"""INT8 ONNX on the real model: images/s against PyTorch eager and float ONNX, and top-1 agreement with float.

EfficientNet-Lite0 fine-tuned on `../shared/data/cxr5-mini` (`_common.cxr5_lite0_run`), 160 px, batch 32, 2 threads,
best of 5. INT8: `export_int8` (static QDQ, per-channel weights, calibrated on up to 256 training films), with 0, 2 and
4 of the first convolutions left in float; agreement measured on the validation split (the library keeps an INT8
model only at >= 99 %). Writes `bench/results/int8_cxr5.json`.
"""
import json, sys, tempfile
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
import torch
from _common import machine, cxr5_lite0_run
from lung_fastai.core import timed_steps

if __name__ == '__main__':
    from lung_fastai.data import split_files
    from lung_fastai.inference import Predictor
    from lung_fastai.deploy import export_onnx, export_int8, _onnx_session
    torch.set_num_threads(2)
    run, report = cxr5_lite0_run()
    tmp = Path(tempfile.mkdtemp())
    pred = Predictor(run, device='cpu')
    train_imgs, val_imgs = (list(split_files(report, s).path) for s in ('train', 'val'))
    fp32 = export_onnx(run, tmp/'model.onnx', check_images=val_imgs[:8])
    x = torch.stack([pred.preprocess(p) for p in val_imgs[:32]])
    rows = [('PyTorch eager', 32/timed_steps(lambda: pred.predict_batch(x), repeats=5), None)]
    sess = _onnx_session(fp32, threads=2)
    rows.append(('ONNX Runtime float', 32/timed_steps(lambda: sess.run(None, {'image': x.numpy()}), repeats=5), 1.0))
    (run/'model.onnx').unlink(missing_ok=True); fp32.rename(run/'model.onnx')
    for keep in (0, 2, 4):
        r = export_int8(run, train_imgs[:256], val_imgs, min_agreement=0.0, keep_float=keep, out=tmp/f'int8_{keep}.onnx')
        s8 = _onnx_session(r['path'], threads=2)
        rows.append((f'ONNX Runtime INT8 ({keep} first convs float)', 32/timed_steps(lambda: s8.run(None, {'image': x.numpy()}), repeats=5), r['agreement']))
    eager = rows[0][1]
    print(machine()); print(f"efficientnet_lite0 at {pred.spec['image_size']}px, batch 32, 2 threads; agreement on {len(val_imgs)} val films")
    for name, ips, agree in rows:
        print(f"{name:38s} {ips:8.1f} images/s  x{ips/eager:5.2f} eager" + ('' if agree is None else f"   top-1 agreement with float {agree:.3f}"))
    res = dict(machine=machine(), n_val=len(val_imgs), rows=[dict(name=n, images_per_s=round(i, 1), x_eager=round(i/eager, 2), agreement=a) for n, i, a in rows])
    (Path(__file__).parent/'results'/'int8_cxr5.json').write_text(json.dumps(res, indent=2) + '\n')
