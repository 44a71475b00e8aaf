"""Sweeps: grids of integer and float training runs on Ray, resumable, and the thesis's tables.

* :mod:`.grid` -- run specifications, their fingerprints, the thesis's table grids;
* :mod:`.execute` -- running a grid (Ray tasks or serially), skipping finished runs, retrying
  failed ones;
* :mod:`.tables` -- Tables 4.1-4.5 from run folders, beside the paper's values (Markdown, JSON,
  plot).
"""
