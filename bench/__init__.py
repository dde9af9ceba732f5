"""Starling's benchmarks: each figure is measured against its floor in the same run (``python -m bench``)."""
