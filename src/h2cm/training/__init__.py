"""Training: YAML run configuration, the multi-constraint loss, the fold trainer, cross-validation.

Modules: :mod:`~h2cm.training.config` (validated run configuration and presets),
:mod:`~h2cm.training.loss` (one function per loss term), :mod:`~h2cm.training.checkpoint`
(atomic checkpoints, :func:`~h2cm.training.checkpoint.load_model`),
:mod:`~h2cm.training.trainer` (:func:`~h2cm.training.trainer.train_fold`),
:mod:`~h2cm.training.cv` (local and Ray executors) and :mod:`~h2cm.training.distributed`
(data-parallel folds on Ray Train). See docs/training.md.
"""
