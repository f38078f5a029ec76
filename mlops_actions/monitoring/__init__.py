"""Monitoring: prediction logs read in chunks, cut into time windows, and checked per window against the
version's release-time training-data profile (numerical stability of the outputs, schema, out-of-range
shares, input and prediction drift).

Modules: ``logs`` (which files, and their rows as flat tables), ``jsonl`` (JSON Lines in blocks),
``columns`` (a flat table as normalised columns), ``windows`` (window length, alignment, splitting),
``reference`` (the reference profile: a file or the registry's version), ``accumulate`` (what one window
collects), ``checks`` (one window judged), ``result`` (the typed result), ``run`` (all of it in order).
"""
