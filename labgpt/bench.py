"""``python -m labgpt.bench``: the benchmarks, which live in :mod:`labgpt.tools.bench`."""

from labgpt.tools.bench import main

if __name__ == "__main__":
    main()
