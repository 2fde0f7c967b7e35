"""asv benchmarks of optbench: time_* (speed), peakmem_* (memory), track_* (convergence).

Run from the repository root: ``asv run``, ``asv continuous main HEAD``, ``asv publish``
(README, "Benchmarks").  ``benchmarks/compare/`` holds stand-alone comparison
scripts (against torch) that asv does not collect.
"""
