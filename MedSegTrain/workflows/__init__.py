"""Workflows: code that strings the layers together into one run a user asks for.

* ``demo`` — phantoms -> a trained fold ensemble -> ensemble inference -> evaluation -> report
  (``medsegtrain demo``);
* ``transfer_chain`` — the multi-site fine-tuning chain A -> A->B -> A->B->C with the All_Data
  baseline and its result grid (``medsegtrain chain``, Touijer et al., T5).

The layers below (data, preprocessing, training, inference, metrics, reporting) never import
from here. Nothing is imported at package level: ``medsegtrain --help`` stays free of torch.
"""
