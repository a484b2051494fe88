"""A stand-in for ``python -m MedSegTrain predict`` used to drive the inference panel quickly.

Called as ``fake_predict.py -m MedSegTrain predict --bundle B --input F --output O [--uncertainty U] ...``.
Writes a label map (1 where the input is above its median, 2 in the top decile) on exactly the
input's grid. ``FAKE_PREDICT_MODE``: ``ok`` (default), ``fail`` (error event, exit 1), ``hang``
(progress forever, for cancel tests; writes its pid to ``FAKE_PREDICT_PIDFILE``).
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import SimpleITK as sitk


def emit(**event):
    print(json.dumps(event), flush=True)


parser = argparse.ArgumentParser()
parser.add_argument("-m")
parser.add_argument("verb")
parser.add_argument("--bundle", action="append")
parser.add_argument("--input", action="append")
parser.add_argument("--output")
parser.add_argument("--uncertainty")
parser.add_argument("--tta")
parser.add_argument("--device")
parser.add_argument("--progress")
parser.add_argument("--time-limit", type=float)
args = parser.parse_args()
mode = os.environ.get("FAKE_PREDICT_MODE", "ok")
emit(event="log", message="argv " + json.dumps(sys.argv[1:]))
if mode == "fail":
    emit(event="error", message="medsegtrain predict: error: bundle does not fit the input")
    sys.exit(1)
if args.time_limit is not None:
    emit(event="log", message=f"budget: 1 member(s) x 2 TTA variant(s) (fits {args.time_limit:g} s)")
emit(event="start", task="predict", total=3)
if mode == "hang":
    with open(os.environ["FAKE_PREDICT_PIDFILE"], "w") as handle:
        handle.write(str(os.getpid()))
    while True:
        emit(event="progress", task="predict", done=1, total=3, fraction=1 / 3, message="window 1")
        time.sleep(0.05)
image = sitk.ReadImage(args.input[0])
array = sitk.GetArrayFromImage(image).astype(np.float32)
label = np.zeros(array.shape, np.uint8)
label[array > np.median(array)] = 1
label[array > np.percentile(array, 90)] = 2
for done in (1, 2, 3):
    emit(event="progress", task="predict", done=done, total=3, fraction=done / 3, message=f"member {done}")
out = sitk.GetImageFromArray(label)
out.CopyInformation(image)
sitk.WriteImage(out, args.output)
outputs = {"label": args.output}
if args.uncertainty:
    unc = sitk.GetImageFromArray(np.abs(array - np.median(array)).astype(np.float32))
    unc.CopyInformation(image)
    sitk.WriteImage(unc, args.uncertainty)
    outputs["uncertainty"] = args.uncertainty
emit(event="done", outputs=outputs)
