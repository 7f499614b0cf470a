"""Chest X-ray classification (5 classes) by fine-tuning timm backbones with fastai: a Jupyter-first research workbook

Modules:

- `lung_fastai.inference`: One loader for run folders: every step after training — evaluation, Grad-CAM, prediction, export, serving — reads a model through `Predictor`, so preprocessing can never drift from training."""

__version__ = "0.1.0"
