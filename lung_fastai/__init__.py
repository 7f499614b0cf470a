"""Chest X-ray classification (5 classes) by fine-tuning timm backbones with fastai: a Jupyter-first research workbook

Modules:

- `lung_fastai.all`: `from lung_fastai.all import *`: every module and every patch in one line.
- `lung_fastai.app`: A page a clinician or a student can open: upload a film, see calibrated probabilities and where the network looked, next to the facts of the model — and nothing that pretends to be a diagnosis.
- `lung_fastai.audit`: Do films repeat across splits as augmented copies, and can the class be predicted from things that are not disease — file facts, or the image with the lungs hidden? Either makes a high score a question, not an answer.
- `lung_fastai.calibrate`: What turns a run's outputs into its answer, fitted on the validation split and stored in the run folder: the gated temperature, the operating points, the out-of-distribution guard, an ensemble's weights. `Predictor` applies them on every surface (page *Inference*).
- `lung_fastai.cli`: `lung-fastai`: thin subcommands over the functions documented in the notebooks.
- `lung_fastai.compare`: Several backbones trained and evaluated on the same data, seed and schedule, in one leaderboard with confidence intervals, calibration, size and speed on this device.
- `lung_fastai.core`: Classes, stable paths, seeding, device and precision, and configuration shared by every notebook.
- `lung_fastai.data`: Find the Kaggle chest X-ray dataset, validate every file with a report, and load it as fastai `DataLoaders`.
- `lung_fastai.deploy`: The trained model as an MLflow pyfunc in the model registry, served over REST, and exported to ONNX — all built on the run folder's safetensors weights and JSON, never on a pickled learner.
- `lung_fastai.evaluate`: A run measured on its test split, on outside data and within one hospital: `evaluate_run` composes the metrics (page *Metrics*), the run's decision (page *Calibration*) and the report (page *The report*).
- `lung_fastai.gradcam`: Where the model looks: Grad-CAM heatmaps on the original X-ray, and the quantitative checks that keep a plausible picture from passing for evidence.
- `lung_fastai.inference`: One loader for run folders: every step after training — evaluation, Grad-CAM, prediction, export, serving — reads a model through `Predictor`, so preprocessing can never drift from training.
- `lung_fastai.lungs`: A lung-field segmenter (a U-Net over a timm encoder, trained with fastai), the lung crop every surface applies to a film before the classifier sees it, and the masks that score a Grad-CAM map inside the lungs on real films.
- `lung_fastai.metrics`: Per-class clinical metrics — sensitivity, specificity, PPV, NPV, ROC-AUC, PR-AUC — calibration error, and their bootstrap and exact confidence intervals: pure functions on arrays of labels and probabilities.
- `lung_fastai.models`: The seven timm backbones with their defaults, ImageNet weights online or offline, and the learner factory.
- `lung_fastai.preprocess`: Normalization statistics at the training resolution and a pre-resized cache of the dataset.
- `lung_fastai.report`: Figures, the HTML report rendered from Jinja2 templates, and one model card — rendered as HTML in the report and as Markdown in the review app — written from an evaluation's results.
- `lung_fastai.script`: A subcommand is a function: its signature is the parser, its comments the help, its result the output.
- `lung_fastai.synth`: Chest-like X-ray phantoms with a known, learnable pattern per class and a lesion mask for every image.
- `lung_fastai.tensors`: Every film decoded and resized once into one memory-mapped uint8 array; batches read from it and augmented on the device — no file is opened or decoded during training.
- `lung_fastai.tracking`: TensorBoard, MLflow and Weights & Biases, chosen with one switch, local-first: nothing needs a server or an account, and each works against a real one when configured.
- `lung_fastai.train`: The two-stage freeze → unfreeze fine-tuning policy, and runs that write a run folder and survive interruption."""

__version__ = "0.1.0"
