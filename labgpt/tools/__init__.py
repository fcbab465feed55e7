"""Tools around the course, apart from its model code: the homework tool
(``python -m labgpt.homework``) and the benchmarks (``python -m labgpt.bench``)."""
