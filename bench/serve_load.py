"""The served model under load: `mlflow models serve` of a registered run on 127.0.0.1, 8 concurrent clients, 500
requests mixing good films, corrupt payloads and oversize payloads. Prints p50/p95/p99 latency of the good requests,
throughput, answers by kind and status class (goal: every good request a 200, every bad payload a 4xx, no 5xx, none
dropped) and the server's memory (RSS of its process tree) before and after.

    python bench/serve_load.py                    # trains a small phantom run to serve (about a minute)
    python bench/serve_load.py --run RUN_FOLDER   # serve an existing run
"""
import argparse, json, os, signal, socket, subprocess, sys, tempfile, time, urllib.request
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
import psutil
from _common import machine
from lung_fastai.core import TrainConfig, project_root, atomic_write_text
from lung_fastai.data import check_dataset
from lung_fastai.deploy import register_run, serve_command, serve_env, invocation_body, load_test

def tree_rss_mb(pid:int)->float:
    p = psutil.Process(pid)
    return round(sum(q.memory_info().rss for q in [p, *p.children(recursive=True)])/2**20, 1)

def free_port()->int:
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def small_run(tmp:Path)->Path:
    from lung_fastai.synth import make_phantoms
    from lung_fastai.train import train
    rep = check_dataset(make_phantoms(tmp/'data', per_class=16, size=128, seed=0))
    cfg = TrainConfig(arch='tiny_efficientnet', pretrained=False, size=128, freeze_epochs=1, epochs=2, num_workers=0,
                      dedup='hash', out=str(tmp/'run'))
    train(cfg, report=rep, show_progress=False)
    return tmp/'run'

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--run', help='run folder to serve (default: train a small one)')
    ap.add_argument('--n', type=int, default=500); ap.add_argument('--concurrency', type=int, default=8)
    ap.add_argument('--out', default='bench/results/serve_load_cpu.json')
    a = ap.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        run = Path(a.run) if a.run else small_run(tmp)
        uri = f"sqlite:///{tmp/'mlflow.db'}"
        register_run(run, 'lung-cxr-load', alias='champion', tracking_uri=uri)
        real = sorted((project_root().parent/'shared'/'data'/'cxr-real').rglob('*.png'))[:8]
        films = real or sorted((tmp/'data').rglob('*.png'))[:8]
        if not films: sys.exit('no films to send: ../shared/data/cxr-real is not here (run without --run to use phantoms)')
        bodies = dict(good=[invocation_body([f]) for f in films],
                      corrupt=[invocation_body([b'not an image']), invocation_body([b'\x89PNG\r\n\x1a\n' + os.urandom(200)])],
                      oversize=[invocation_body([os.urandom(3_000_000)])])
        port = free_port()
        server = subprocess.Popen(serve_command('models:/lung-cxr-load@champion', port),
                                  env=serve_env(MLFLOW_TRACKING_URI=uri, LUNG_FASTAI_MAX_IMAGE_BYTES=2_000_000),
                                  start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(480):
                try:
                    with urllib.request.urlopen(f'http://127.0.0.1:{port}/ping', timeout=2): break
                except Exception: time.sleep(0.5)
            load_test(f'http://127.0.0.1:{port}/invocations', dict(good=bodies['good'][:1]), n=8, concurrency=1)  # warm-up
            before = tree_rss_mb(server.pid)
            res = load_test(f'http://127.0.0.1:{port}/invocations', bodies, n=a.n, concurrency=a.concurrency,
                            mix=dict(good=6, corrupt=2, oversize=2))
            res.update(server_rss_mb_before=before, server_rss_mb_after=tree_rss_mb(server.pid), machine=machine(),
                       good_films='cxr-real' if real else 'phantoms')
        finally:
            os.killpg(server.pid, signal.SIGTERM); server.wait(timeout=30)
    print(json.dumps(res, indent=1))
    atomic_write_text(a.out, json.dumps(res, indent=1))
