"""Drop-in for the authors' research code (github zavud/h2cm, PyTorch Lightning): their trained
checkpoints (:mod:`.layout`, :mod:`.convert`), their data split (:mod:`.split`) and their
normalisation statistics (:mod:`.stats`). See docs/reference.md."""
