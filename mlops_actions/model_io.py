"""The public API for project code: ``save_model`` writes a skops model file, ``load_model`` reads one back.

A training command written by hand saves its model with ``mlops_actions.model_io.save_model``; the
implementation lives in :mod:`mlops_actions.domain.model_io`.
"""

from mlops_actions.domain.model_io import load_model, save_model

__all__ = ["load_model", "save_model"]
