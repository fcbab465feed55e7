"""Where the LayerNorm goes: post-LN (Vaswani et al., 2017; GPT-1) vs pre-LN (GPT-2), measured.

:func:`run` trains one small character GPT either way; :func:`sweep` runs the grid over depth
and learning rate that the Transformer chapter shows. The grid costs several CPU-minutes, so it
is the shipped record ``ln_sweep`` (``python -m labgpt.records make ln_sweep``), and the chapter
re-runs one of its cells live.
"""

from __future__ import annotations

from labgpt.batching import lm_batches
from labgpt.environment import seed_everything
from labgpt.gpt import GPT, GPTConfig
from labgpt.ladder import char_data
from labgpt.training import TrainConfig, train

DEPTHS = (2, 8, 16)
LEARNING_RATES = (1e-3, 3e-3, 1e-2)


def run(pre_ln: bool, n_layer: int, lr: float, steps: int = 200, seed: int = 0) -> float:
    """Validation loss of a char-level GPT (width 64, 4 heads, context 64, batch 16) after
    ``steps`` steps at a constant ``lr`` with 50 warmup steps: post-LN or pre-LN."""
    chars, train_ids, val_ids = char_data()
    seed_everything(seed)
    config = GPTConfig(vocab_size=chars.vocab_size, block_size=64, n_layer=n_layer, n_head=4,
                       n_embd=64, pre_ln=pre_ln, scaled_residual_init=pre_ln)
    model = GPT(config)
    train_config = TrainConfig(steps=steps, lr=lr, min_lr=lr, warmup_steps=50,
                               eval_every=steps, eval_batches=10, seed=seed, progress=False)
    history = train(model, lm_batches(train_ids, val_ids, 64, 16), train_config)
    return history.final_val_loss


def sweep(steps: int = 200, seed: int = 0) -> dict:
    """Post-LN and pre-LN at every depth in :data:`DEPTHS` and lr in :data:`LEARNING_RATES`."""
    runs = []
    for n_layer in DEPTHS:
        for lr in LEARNING_RATES:
            for pre_ln in (False, True):
                loss = run(pre_ln, n_layer, lr, steps, seed)
                runs.append({"n_layer": n_layer, "lr": lr, "pre_ln": pre_ln,
                             "val_loss": round(loss, 4)})
                print(f"  {n_layer:>2} layers  lr {lr:.0e}  {'pre ' if pre_ln else 'post'}-LN"
                      f"  val {loss:.3f}", flush=True)
    return {"steps": steps, "runs": runs}
