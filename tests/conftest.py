import os

# Before anything imports torch: idle OpenMP threads sleep instead of spinning (see README).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
