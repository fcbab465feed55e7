"""labgpt: the package the labgpt course runs on.

Import labgpt before torch in a fresh process: it sets ``OMP_WAIT_POLICY=PASSIVE`` (unless you
set it yourself) so that torch's OpenMP threads sleep instead of spinning while they wait. On a
2-core machine spinning threads stall for seconds whenever any other process is busy.
"""

import os
import sys
import warnings

if "torch" in sys.modules and "OMP_WAIT_POLICY" not in os.environ:
    warnings.warn(
        "torch was imported before labgpt, so OMP_WAIT_POLICY=PASSIVE comes too late for this "
        "process; import labgpt first (or export OMP_WAIT_POLICY=PASSIVE) to avoid CPU stalls",
        stacklevel=2,
    )
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# The top level holds every model and its config, and the shared machinery chapters call again
# and again (data, tokenizers, batching, training, log-probs, decoding, checkpoints, measuring,
# plots, the environment). Modules used as a namespace are imported whole: `from labgpt import
# records`, and what belongs to one concept (recurrent cells, attention functions, decoding's
# filters, an experiment, the ladder), then `recurrent.lstm_cell`. Checkers come from
# `labgpt.checks`.
from labgpt.batching import lm_batches, random_windows, train_val_split  # noqa: E402
from labgpt.bigram import BigramLM  # noqa: E402
from labgpt.bpe import BPETokenizer  # noqa: E402
from labgpt.checkpoint import CheckpointError, load_checkpoint, save_checkpoint  # noqa: E402
from labgpt.corpus import CORPORA, CorruptDataError, corpus_path, load_text  # noqa: E402
from labgpt.decoding import beam_search, generate  # noqa: E402
from labgpt.environment import (  # noqa: E402
    gpu_section,
    online_section,
    pick_device,
    seed_everything,
    use_threads,
)
from labgpt.gpt import GPT, GPTConfig  # noqa: E402
from labgpt.logprobs import lm_loss, sequence_logprob, token_logprobs  # noqa: E402
from labgpt.measure import best_time, count_params, timed  # noqa: E402
from labgpt.mlp_lm import MLPLM  # noqa: E402
from labgpt.ngram import NGramLM  # noqa: E402
from labgpt.plotting import plot_heatmap, plot_history  # noqa: E402
from labgpt.recurrent import RecurrentLM  # noqa: E402
from labgpt.tokenization import (  # noqa: E402
    CharTokenizer,
    WordTokenizer,
    gpt2_encoding,
    split_words,
)
from labgpt.training import History, TrainConfig, lr_at, train  # noqa: E402
from labgpt.transformer import Seq2SeqTransformer  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "CORPORA",
    "RecurrentLM",
    "Seq2SeqTransformer",
    "beam_search",
    "best_time",
    "generate",
    "count_params",
    "lm_loss",
    "sequence_logprob",
    "timed",
    "token_logprobs",
    "BPETokenizer",
    "BigramLM",
    "CharTokenizer",
    "CheckpointError",
    "CorruptDataError",
    "GPT",
    "GPTConfig",
    "History",
    "MLPLM",
    "NGramLM",
    "TrainConfig",
    "corpus_path",
    "gpt2_encoding",
    "gpu_section",
    "online_section",
    "load_checkpoint",
    "load_text",
    "lm_batches",
    "lr_at",
    "pick_device",
    "plot_heatmap",
    "plot_history",
    "random_windows",
    "save_checkpoint",
    "seed_everything",
    "train",
    "split_words",
    "train_val_split",
    "use_threads",
    "WordTokenizer",
]
