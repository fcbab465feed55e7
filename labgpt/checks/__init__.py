"""Checkers for the exercises, one module per chapter; each says *what* is wrong, not just "no".

A checker runs the learner's function on cases with known answers (usually labgpt's own
implementation, or PyTorch's), raises :class:`CheckFailed` (an AssertionError, so nbval and the
grader see a failure) with a message naming the expectation, what was got and, for the usual
mistakes, the likely cause, and prints one line on success. Shared helpers live in
:mod:`labgpt.checks.core`. Notebooks import checkers from here: ``from labgpt.checks import
check_merge``.
"""

from labgpt.checks.after_instructgpt import (
    check_dpo_loss,
    check_greeting_verifier,
    check_group_advantages,
)
from labgpt.checks.core import CheckFailed, check_close, check_scalar, check_shape
from labgpt.checks.decoding import check_beam_step, check_repetition_penalty, check_top_p
from labgpt.checks.embeddings import (
    check_cosine_similarities,
    check_negative_sampling_loss,
    check_ppmi,
)
from labgpt.checks.getting_started import check_cross_entropy
from labgpt.checks.gpt import check_gpt_params, check_lr_schedule, check_top_k
from labgpt.checks.gpt1 import check_choice_loss, check_l3_loss, check_similarity_input
from labgpt.checks.gpt2 import check_choice_scores, check_new_task, check_render
from labgpt.checks.gpt3 import check_k_shot_prompt, check_power_law_fit, check_training_compute
from labgpt.checks.icl import (
    check_answer_only_targets,
    check_flipped_prompt,
    check_induction_scores,
    check_least_squares,
)
from labgpt.checks.instructgpt import check_clipped_objective, check_gae, check_pairwise_loss
from labgpt.checks.ngrams import check_add_k, check_continuation_counts, check_perplexity
from labgpt.checks.rnn import check_clip_grad_norm, check_gru_cell, check_lstm_cell
from labgpt.checks.tokens import check_decode, check_merge, check_pair_counts
from labgpt.checks.transformer import (
    check_attention,
    check_causal_mask,
    check_sinusoidal,
    check_split_heads,
)

__all__ = [
    "CheckFailed",
    "check_add_k",
    "check_answer_only_targets",
    "check_attention",
    "check_beam_step",
    "check_causal_mask",
    "check_choice_loss",
    "check_choice_scores",
    "check_clipped_objective",
    "check_clip_grad_norm",
    "check_close",
    "check_continuation_counts",
    "check_cosine_similarities",
    "check_cross_entropy",
    "check_decode",
    "check_dpo_loss",
    "check_flipped_prompt",
    "check_gae",
    "check_gpt_params",
    "check_greeting_verifier",
    "check_group_advantages",
    "check_gru_cell",
    "check_induction_scores",
    "check_k_shot_prompt",
    "check_l3_loss",
    "check_least_squares",
    "check_lr_schedule",
    "check_lstm_cell",
    "check_new_task",
    "check_merge",
    "check_negative_sampling_loss",
    "check_pair_counts",
    "check_pairwise_loss",
    "check_perplexity",
    "check_power_law_fit",
    "check_ppmi",
    "check_render",
    "check_repetition_penalty",
    "check_scalar",
    "check_shape",
    "check_similarity_input",
    "check_sinusoidal",
    "check_split_heads",
    "check_top_k",
    "check_top_p",
    "check_training_compute",
]
