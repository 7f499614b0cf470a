"""Training throughput of ConvNeXtV2-Tiny at 224 px on a CUDA GPU: fp32 vs mixed precision (bf16 where supported,
else fp16 with loss scaling), each with the default and the channels_last memory format, and model FLOP utilisation
(MFU) against the device's peak. Random weights and random data: no network needed. Finishes in a few minutes on a
modern GPU (well under 8).

    python bench/gpu.py              # on a CUDA machine
    python bench/gpu.py --cpu-smoke  # checks the script's code path on a CPU with a tiny model (numbers meaningless)
"""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
import torch, timm
from torch.utils.flop_counter import FlopCounterMode
from _common import machine
from lung_fastai.core import timed_steps

# Dense peak FLOP/s by device-name fragment: (bf16/fp16 tensor core, tf32, fp32). Vendor datasheet figures (no sparsity).
PEAKS = {'H200': (989e12, 494e12, 67e12), 'H100': (989e12, 494e12, 67e12), 'A100': (312e12, 156e12, 19.5e12),
         'L4': (121e12, 60e12, 30e12), 'A10G': (70e12, 35e12, 31e12), 'T4': (65e12, None, 8.1e12), 'P100': (18.7e12, None, 9.3e12),
         'V100': (125e12, None, 15.7e12), 'RTX 4090': (165e12, 82.6e12, 82.6e12)}

def peak(name:str, precision:str):
    for k, (half, tf32, fp32) in PEAKS.items():
        if k in name:
            if precision != 'fp32': return half
            return tf32 if (tf32 and torch.backends.cudnn.allow_tf32) else fp32
    return None

def train_flops_per_image(model, size, device):
    "FLOPs of one forward+backward per image, counted by PyTorch's FlopCounterMode"
    x = torch.randn(2, 3, size, size, device=device)
    with FlopCounterMode(display=False) as fc:
        model(x).float().sum().backward()
    model.zero_grad(set_to_none=True)
    return fc.get_total_flops()/2

def images_per_s(model, size, bs, precision, channels_last, device, warmup, steps):
    model = model.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    scaler = torch.amp.GradScaler('cuda', enabled=precision == 'fp16' and device.type == 'cuda')
    dtype = {'bf16': torch.bfloat16, 'fp16': torch.float16}.get(precision)
    x = torch.randn(bs, 3, size, size, device=device)
    if channels_last: x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 5, (bs,), device=device)
    def step():
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = torch.nn.functional.cross_entropy(model(x), y)
        scaler.scale(loss).backward(); scaler.step(opt); scaler.update(); opt.zero_grad(set_to_none=True)
    return bs*steps/timed_steps(step, steps, warmup=warmup, device=device)

def main(smoke=False):
    device = torch.device('cpu' if smoke else 'cuda')
    if not smoke and not torch.cuda.is_available(): sys.exit('bench/gpu.py needs a CUDA GPU (or --cpu-smoke)')
    arch, size, bs, warmup, steps = ('test_convnext', 64, 8, 1, 2) if smoke else ('convnextv2_tiny', 224, 128, 10, 30)
    torch.backends.cudnn.benchmark = True
    name = 'CPU' if smoke else torch.cuda.get_device_name()
    half = 'bf16' if (not smoke and torch.cuda.is_bf16_supported()) else 'fp16'
    model = timm.create_model(arch, pretrained=False, num_classes=5).to(device).train()
    flops = train_flops_per_image(model, size, device)
    print(machine()); print(f"{arch} at {size}px, batch {bs}, {steps} timed steps after {warmup} warm-up; {flops/1e9:.1f} GFLOP per image (fwd+bwd)")
    base = None
    for precision in ('fp32', half):
        for cl in (False, True):
            ips = images_per_s(model, size, bs, precision, cl, device, warmup, steps)
            base = base or ips
            pk = peak(name, precision)
            mfu = f"MFU {100*ips*flops/pk:5.1f}% of {pk/1e12:.0f} TFLOP/s" if pk and not smoke else 'MFU n/a (unknown peak)'
            print(f"{precision:5s} {'channels_last' if cl else 'default      '} {ips:9.1f} img/s  x{ips/base:4.2f}  {ips*flops/1e12:7.1f} TFLOP/s  {mfu}")

if __name__ == '__main__': main(smoke='--cpu-smoke' in sys.argv)
