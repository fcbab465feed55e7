"""Small synthetic worlds: text generators in which what a model can learn is known exactly.

Each world owns its vocabulary, its text and its tasks, so that a chapter can show a mechanism
(pre-training transfers, zero-shot, in-context learning, feedback) where real data at laptop
scale would hide it.
"""
