"""`plancycle simulate`: a whole planning year in fast forward on the embedded stack (see run.py)."""
