import shutil

import pytest

import labgpt
from labgpt.corpus import CORPORA, DATA_DIR, sha256_of


@pytest.mark.parametrize("name", sorted(CORPORA))
def test_every_shipped_file_matches_its_hash(name):
    assert sha256_of(labgpt.corpus_path(name)) == CORPORA[name].sha256


def test_tinyshakespeare_is_the_known_text():
    text = labgpt.load_text("tinyshakespeare")
    assert len(text) == 1_115_394
    assert len(set(text)) == 65
    assert text.startswith("First Citizen:")


def test_a_corrupted_copy_fails_loudly_naming_the_file(tmp_path):
    shutil.copy(DATA_DIR / "names.txt", tmp_path / "names.txt")
    assert labgpt.load_text("names", data_dir=tmp_path).startswith("emma")
    with open(tmp_path / "names.txt", "r+b") as f:  # flip one byte
        f.seek(100)
        byte = f.read(1)
        f.seek(100)
        f.write(bytes([byte[0] ^ 1]))
    with pytest.raises(labgpt.CorruptDataError, match=r"names\.txt is corrupt: sha256"):
        labgpt.load_text("names", data_dir=tmp_path)


def test_a_missing_file_and_an_unknown_name_are_clear_errors(tmp_path):
    with pytest.raises(labgpt.CorruptDataError, match="missing"):
        labgpt.load_text("names", data_dir=tmp_path)
    with pytest.raises(KeyError, match="unknown corpus 'shakespeare'; available"):
        labgpt.load_text("shakespeare")


def test_sources_note_every_file_with_its_hash():
    sources = (DATA_DIR / "SOURCES.md").read_text()
    for corpus in CORPORA.values():
        assert corpus.filename in sources and corpus.sha256 in sources
