"""``python -m labgpt.homework``: the homework tool, which lives in :mod:`labgpt.tools.homework`."""

from labgpt.tools.homework import main

if __name__ == "__main__":
    main()
