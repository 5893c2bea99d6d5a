"""Character-level vocabulary shared by both models, written as a Hugging Face tokenizer.json.

Ids 0-4 are special tokens; every other id is one character. Inputs use only
a-z, space and apostrophe; outputs add digits and `$ % , . :` (version 1 of the task), then
`- / @ _`, the capitals of unit symbols and `£ ° €` (version 2), appended so that the ids of a
version 1 vocabulary keep their meaning.
"""
import json

SPECIALS = ["<pad>", "<bos>", "<eos>", "<unk>", "<sep>"]
PAD, BOS, EOS, UNK, SEP = range(len(SPECIALS))
CHARS = list(" '") + [chr(c) for c in range(ord("a"), ord("z") + 1)] + \
        [str(d) for d in range(10)] + list("$%,.:") + list("-/@_BCFGHKMTW£°€")
V1_SIZE = len(SPECIALS) + 2 + 26 + 10 + 5
VOCAB = SPECIALS + CHARS
ID = {t: i for i, t in enumerate(VOCAB)}


def encode(text):
    return [ID.get(c, UNK) for c in text]


def decode(ids):
    return "".join(VOCAB[i] for i in ids if i >= len(SPECIALS))


def tokenizer_json():
    """A WordLevel model over single characters: the pre-tokenizer isolates every character."""
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True} for i, t in enumerate(SPECIALS)],
        "normalizer": None,
        "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "."}, "behavior": "Isolated",
                          "invert": False},
        "post_processor": None,
        "decoder": {"type": "Fuse"},
        "model": {"type": "WordLevel", "vocab": ID, "unk_token": "<unk>"},
    }


def write(path):
    with open(path, "w") as f:
        json.dump(tokenizer_json(), f, indent=1, ensure_ascii=True)
        f.write("\n")
