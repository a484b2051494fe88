"""``python -m MedSegTrain`` is ``medsegtrain``."""

import sys

from MedSegTrain.cli import main

sys.exit(main())
