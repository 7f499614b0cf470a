"""Soak test: a tiny backbone trained by `lung-fastai train`, killed at random moments (SIGKILL or SIGTERM) again and
again and resumed each time with `--resume`, must end with the same weights as an uninterrupted run — bit for bit.

    python bench/soak.py --kills 24            # ~4 min on 2 cores

Prints the kills (signal, seconds after start, epoch reached) and the bitwise comparison; exit status 1 if they differ.
"""
import argparse, json, os, random, signal, subprocess, sys, tempfile, time
from pathlib import Path
import pandas as pd, torch
from safetensors.torch import load_file
from _common import machine

def cli(*args)->list: return [str(Path(sys.executable).parent/'lung-fastai'), *map(str, args)]

def train_cmd(data, out, epochs:int, resume:bool)->list:
    return cli('train', '--data', data, '--arch', 'tiny_convnext', '--no-pretrained', '--size', 64, '--bs', 16,
               '--freeze-epochs', 1, '--epochs', epochs, '--num-workers', 0, '--norm', 'backbone', '--seed', 0,
               '--out', out, *(['--resume'] if resume else []))

def epochs_done(run:Path)->int:
    f = run/'metrics.csv'
    return len(pd.read_csv(f)) if f.exists() and f.stat().st_size else 0

def soak(data:Path, run:Path, epochs:int, kills:int, rng:random.Random, lo:float, hi:float, log)->list:
    "Kill the training `kills` times at random moments, resuming after each; then let it finish"
    done, resume = [], False
    while True:
        p = subprocess.Popen(train_cmd(data, run, epochs, resume), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        resume = (run/'config.yaml').exists()
        if len(done) >= kills:
            err = p.communicate()[1].decode()
            if p.returncode != 0: raise SystemExit(f'final resume failed ({p.returncode}):\n{err[-3000:]}')
            return done
        wait = rng.uniform(lo, hi)
        try: p.wait(wait); finished = True
        except subprocess.TimeoutExpired: finished = False
        if finished:   # it reached the end before the kill: start over is not needed, but the soak is not over
            if p.returncode != 0: raise SystemExit(f'a resumed run failed ({p.returncode}):\n{p.stderr.read().decode()[-3000:]}')
            raise SystemExit(f'the run finished after {len(done)} kills: raise --epochs')
        sig = rng.choice([signal.SIGKILL, signal.SIGTERM])
        p.send_signal(sig); p.wait()
        resume = (run/'config.yaml').exists()
        done.append(dict(signal=sig.name, after_s=round(wait, 1), epochs_done=epochs_done(run)))
        log(f"kill {len(done):2d}: {sig.name:7s} after {wait:4.1f} s, {done[-1]['epochs_done']} epochs on disk")

def same_weights(a:Path, b:Path)->tuple:
    wa, wb = load_file(str(a/'model.safetensors')), load_file(str(b/'model.safetensors'))
    differ = [k for k in wa if not torch.equal(wa[k], wb[k])]
    return wa.keys() == wb.keys() and not differ, len(wa), differ

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--kills', type=int, default=20)
    ap.add_argument('--epochs', type=int, default=200, help='stage 2 epochs (stage 1: one)')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--window', type=float, nargs=2, default=(3., 10.), help='kill after a uniform wait in [lo, hi] s')
    ap.add_argument('--work', default=None)
    a = ap.parse_args()
    work = Path(a.work or tempfile.mkdtemp(prefix='soak-'))
    from lung_fastai.synth import make_phantoms
    data = make_phantoms(work/'data', per_class=16, size=64, seed=0)
    os.environ['LUNG_FASTAI_HOME'] = str(work/'home')
    t0 = time.time()
    r = subprocess.run(train_cmd(data, work/'plain', a.epochs, False), capture_output=True, text=True)
    if r.returncode: raise SystemExit(f'the uninterrupted run failed:\n{r.stderr[-3000:]}')
    t_plain = time.time() - t0
    print(f'uninterrupted run: {1 + a.epochs} epochs in {t_plain:.0f} s', flush=True)
    t0 = time.time()
    kills = soak(data, work/'soaked', a.epochs, a.kills, random.Random(a.seed), *a.window, lambda s: print(s, flush=True))
    equal, n, differ = same_weights(work/'plain', work/'soaked')
    ma, mb = (pd.read_csv(work/r/'metrics.csv').drop(columns=['time', 'train_loss']) for r in ('plain', 'soaked'))
    res = dict(machine=machine(), kills=len(kills), sigkill=sum(k['signal'] == 'SIGKILL' for k in kills),
               sigterm=sum(k['signal'] == 'SIGTERM' for k in kills), epochs=1 + a.epochs, seed=a.seed,
               weights_bitwise_equal=equal, tensors=n, tensors_differing=len(differ),
               metrics_equal=ma.equals(mb), metrics_rows=(len(ma), len(mb)), soak_s=round(time.time() - t0),
               plain_s=round(t_plain), kill_log=kills)
    print(json.dumps({k: v for k, v in res.items() if k != 'kill_log'}, indent=1))
    out = Path(__file__).parent/'results'/'soak_cpu2.json'
    out.write_text(json.dumps(res, indent=1) + '\n')
    print(f'{len(kills)} random kills ({res["sigkill"]} SIGKILL, {res["sigterm"]} SIGTERM), resumed each time: final weights '
          f'{"bitwise EQUAL" if equal else "DIFFERENT"} to the uninterrupted run ({n} tensors); '
          f'metrics.csv {"equal" if res["metrics_equal"] else "DIFFERENT"}  -> {out}')
    return 0 if equal and res['metrics_equal'] else 1

if __name__ == '__main__': sys.exit(main())
