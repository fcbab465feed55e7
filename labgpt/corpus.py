"""The corpora the course uses, shipped inside the package and checked on load.

Every file in ``labgpt/data`` is listed in :data:`CORPORA` with its sha256. A file that does not
match (truncated download, edited by hand, a bad checkout) raises :class:`CorruptDataError`
naming the file, instead of quietly training on the wrong text. Origins and licences are in
``labgpt/data/SOURCES.md``.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA_DIR = Path(__file__).parent / "data"


@dataclass(frozen=True)
class Corpus:
    filename: str
    sha256: str
    description: str


CORPORA: dict[str, Corpus] = {
    "tinyshakespeare": Corpus(
        "tinyshakespeare.txt",
        "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
        "Tiny Shakespeare: 1,115,394 characters, 65 distinct (karpathy/char-rnn)",
    ),
    "names": Corpus(
        "names.txt",
        "0a30b5557f192f32ab962680889aac5f6fda0f4cecf40a6d0b5694f58ea8cc4d",
        "32,033 lowercase first names, one per line (karpathy/makemore)",
    ),
    "sst2_train": Corpus(
        "sst2_train.tsv",
        "48eac26399f8456935f81dd9e3a745c1430adb6c62e233ccfe22db4a0d15d1d1",
        "GLUE SST-2 train split: sentence<TAB>label, 67,349 rows (Socher et al. 2013)",
    ),
    "sst2_dev": Corpus(
        "sst2_dev.tsv",
        "54a9c12c77e402fc14d6a66a506f24d999f596b0176eb777c972cccc2f9cc4b0",
        "GLUE SST-2 dev split: sentence<TAB>label, 872 rows (Socher et al. 2013)",
    ),
    "tang_poems": Corpus(
        "tang_poems.txt",
        "08c811e4affab25c70cb339cea6829c2236fcf78a61468a456529ce67aae687e",
        "First 5,003 poems of the Complete Tang Poems, traditional characters",
    ),
    "gpt2_ranks": Corpus(
        "gpt2.tiktoken",
        "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930",
        "GPT-2 byte-level BPE ranks in tiktoken format (openai/whisper)",
    ),
}

# Files already verified in this process, keyed by (path, size, mtime): hashing 4 MB on every
# load would be wasted work, and a file changed since its check is checked again.
_verified: set[tuple[Path, int, int]] = set()


class CorruptDataError(ValueError):
    """A data file is missing or its contents do not match the recorded sha256."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def corpus_path(name: str, data_dir: str | Path | None = None) -> Path:
    """Return the path of corpus ``name`` after checking its sha256.

    ``data_dir`` defaults to the folder shipped with the package; pass another folder to load
    a copy (the tests use this to show that a corrupted copy is refused).
    """
    if name not in CORPORA:
        raise KeyError(f"unknown corpus {name!r}; available: {', '.join(sorted(CORPORA))}")
    corpus = CORPORA[name]
    path = (Path(data_dir) if data_dir is not None else DATA_DIR) / corpus.filename
    if not path.is_file():
        raise CorruptDataError(f"data file {path} is missing; reinstall labgpt or restore it")
    stat = path.stat()
    key = (path.resolve(), stat.st_size, stat.st_mtime_ns)
    if key in _verified:
        return path
    actual = sha256_of(path)
    if actual != corpus.sha256:
        raise CorruptDataError(
            f"data file {path} is corrupt: sha256 {actual} does not match the expected "
            f"{corpus.sha256}; restore it from a fresh clone of labgpt"
        )
    _verified.add(key)
    return path


def load_text(name: str, data_dir: str | Path | None = None) -> str:
    """Load a corpus as one UTF-8 string, verified against its sha256."""
    return corpus_path(name, data_dir).read_text(encoding="utf-8")


def load_sst2(split: str) -> list[tuple[str, int]]:
    """SST-2 (Socher et al., 2013, via GLUE) as ``(text, label)`` pairs, label 1 = positive.

    ``"train"``: 67,349 rows, phrases and sentences cut from about 6,900 reviews' sentences (a
    phrase often sits inside a longer row); ``"dev"``: 872 whole sentences. The text is
    lowercased and tokenized (``"it 's"``), so ``text.split()`` gives its words."""
    if split not in ("train", "dev"):
        raise ValueError(f"split must be 'train' or 'dev', got {split!r}")
    lines = load_text(f"sst2_{split}").splitlines()
    if lines[0] != "sentence\tlabel":
        raise CorruptDataError(f"sst2_{split}.tsv does not start with its header")
    rows = []
    for line in lines[1:]:
        text, label = line.rsplit("\t", 1)
        rows.append((text.strip(), int(label)))
    return rows


@lru_cache(maxsize=1)
def sst2_sentences(min_words: int = 6) -> tuple[tuple[str, int], ...]:
    """SST-2's training rows of at least ``min_words`` words that are not part of a longer row:
    6,575 distinct sentences (or long fragments), labelled, in a fixed shuffled order. These
    are the labelled examples a few-label experiment draws from; the shorter rows are their
    phrases again."""
    rows = sorted(set(load_sst2("train")), key=lambda r: (-len(r[0]), r))
    kept, seen = [], ""
    for text, label in rows:
        if len(text.split()) >= min_words and f" {text} " not in seen:
            kept.append((text, label))
            seen += f"\n {text} "
    random.Random(0).shuffle(kept)
    return tuple(kept)
