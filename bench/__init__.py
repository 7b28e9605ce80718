"""Benchmarks on real data (../shared/data): each script writes its own section of RESULTS.md.

Importing the package (every script does, for bench.data and bench.results) sets the offline
defaults: the bundled model never calls the Hub, and tokenizers do not fork their own threads.
"""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
