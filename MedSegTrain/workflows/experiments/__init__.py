"""Experiments: a paper's study regenerated as a grid of trainings with its statistics and report.

``spec`` reads a YAML experiment spec, ``grid`` expands it into trials with stable IDs,
``runner`` runs them (resumable), ``results`` writes the per-case table, ``analysis`` computes
the statistics and ``report`` writes ``report.md`` with its plots (``medsegtrain experiment``).
"""
