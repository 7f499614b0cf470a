"Shared helpers for the benchmark scripts (not part of the library)."
import os, platform
from pathlib import Path
import torch

def machine()->str:
    "One line describing where the numbers came from"
    dev = torch.cuda.get_device_name() if torch.cuda.is_available() else 'CPU only'
    return f"{platform.node()} | {platform.processor() or platform.machine()} | {os.cpu_count()} cores | torch {torch.__version__} | {dev}"


def cxr5_lite0_run(work:Path|None=None, size:int=160)->tuple:
    """(run folder, cached DataReport) of EfficientNet-Lite0 (real ImageNet weights) fine-tuned on `../shared/data/cxr5-mini`
    with the cxr5_mini tutorial's recipe; trained once (~3 min on 2 cores) and reused from `work` afterwards."""
    from lung_fastai.core import TrainConfig, project_root
    from lung_fastai.data import check_dataset
    from lung_fastai.preprocess import cache_dataset
    from lung_fastai.models import import_weights
    data = project_root().parent/'shared'/'data'/'cxr5-mini'
    if not data.is_dir(): raise SystemExit(f'{data} is not here: this benchmark needs the real films beside the repository')
    work = Path(work or Path.home()/'.cache'/'lung_fastai'/'bench'/'cxr5_lite0')
    if not (work/'cache').is_dir(): cache_dataset(check_dataset(data), work/'cache', max_size=256, progress=False)
    cached = check_dataset(work/'cache')
    run = work/'run'
    if not (run/'model.safetensors').exists():
        from lung_fastai.train import train
        os.environ.update(LUNG_FASTAI_WEIGHTS=str(work/'weights'), HF_HUB_OFFLINE='1')
        import_weights('efficientnet_lite0')
        cfg = TrainConfig(arch='efficientnet_lite0', size=size, bs=32, freeze_epochs=1, epochs=5, stage1_lr=3e-3, lr=5e-4,
                          norm='backbone', num_workers=2, seed=0, out=str(run))
        train(cfg, report=cached, show_progress=False)
    return run, cached
