"""Studies: does the hybrid earn its keep? Baselines on the twin world, at flux towers, and the
paper's carbon claims (docs/studies/). The verb ``h2cm study`` is in :mod:`h2cm.cli.study`.

* :func:`h2cm.studies.twin.run_twin`: hybrid (with/without priors) and both baselines on a twin world
* :func:`h2cm.studies.site.run_site`: one flux tower, temporal split
* :func:`h2cm.studies.towers.run_towers`: several towers, leave-one-site-out and temporal split
* :func:`h2cm.studies.claims.run_claims`: the paper's carbon claims

Each writes ``results.md`` and CSV tables into its output folder.
"""
