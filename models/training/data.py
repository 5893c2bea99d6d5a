"""Data for the inverse text normalization (ITN) task: spoken form -> written form.

Every example is built span by span, so the written form is known by construction:
filler words are copied, each number span (cardinal, ordinal, date, time, money,
percent) is rendered in both forms. See shared/ITN-TASK.md for the exact rules.

Sentences mix three sources of filler so that the models learn to copy any word:
  * a list of common English function and content words (realistic frames),
  * a 60k-word dictionary (words.txt),
  * pronounceable pseudo-words that exist in no dictionary.

Splits are disjoint by construction: train, validation and test use different seeds
and the test and validation sentences are removed from the training stream.

    /usr/bin/python3 data.py --split test --n 5        # print a few examples
"""
import argparse
import os
import random

MAX_CHARS = 96  # longest spoken-form input the task allows

ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
        "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
        "seventeen", "eighteen", "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
ORD_ONES = ["zeroth", "first", "second", "third", "fourth", "fifth", "sixth", "seventh",
            "eighth", "ninth", "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth",
            "fifteenth", "sixteenth", "seventeenth", "eighteenth", "nineteenth"]
ORD_TENS = ["", "", "twentieth", "thirtieth", "fortieth", "fiftieth", "sixtieth",
            "seventieth", "eightieth", "ninetieth"]
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december"]

# Words that only ever occur inside spans, never as filler.
RESERVED = set(ONES + TENS[2:] + ORD_ONES + ORD_TENS + MONTHS + [
    "hundred", "thousand", "dollar", "dollars", "cent", "cents", "percent", "o'clock",
    "oh", "m", "zeroth"])

COMMON = """the a an and or but if then so because while when where who what which that this
these those there here is are was were be been being am do does did done have has had
i you he she it we they me him her us them my your his its our their mine yours
to of in on at by for with from into over under about after before between through during
without within along across behind beyond near around up down out off again once more most
some any each every all both few many much several no not only just also very too quite
new old good bad big small long short high low great little early late young right left
last next other same own sure free full open close real best better worse whole
time year day week month hour minute morning evening night today tomorrow yesterday
people person man woman child children friend family team group company school city
house room home car bus train flight ticket bill rent price store shop office meeting
book page line word name number list report order plan test score game match race place
money bank account card phone email message letter package box bag table chair door
water coffee tea lunch dinner breakfast food bread cake apple apples eggs milk
said says say told tell asked ask called call went go goes going came come comes
got get gets made make makes took take takes gave give gives saw see seen know knew
think thought want wanted need needed like liked love loved use used find found
paid pay pays bought buy sold sell spent spend costs cost owed owe won win lost lose
started start starts ended end ends opened closed left arrived arrives leaves leave
wait waited meet met moved move stayed stay worked work works lived live counted
please thanks thank yes okay well still even just almost about roughly nearly only
let's don't can't won't isn't wasn't didn't doesn't it's that's there's i'm you're
we're they're i've we've i'll we'll she's he's what's who's aren't couldn't wouldn't""".split()

VOWELS = "aeiou"
CONSONANTS = "bcdfghjklmnpqrstvwxyz"


def load_words(path=None):
    path = path or os.path.join(os.path.dirname(os.path.abspath(__file__)), "words.txt")
    with open(path) as f:
        return [w for w in (l.strip() for l in f) if w and w not in RESERVED]


# ---------------------------------------------------------------- number spans

def cardinal_under_100(n):
    if n < 20:
        return ONES[n]
    t, o = divmod(n, 10)
    return TENS[t] if o == 0 else f"{TENS[t]} {ONES[o]}"


def cardinal_under_1000(n, rng):
    if n < 100:
        return cardinal_under_100(n)
    h, rest = divmod(n, 100)
    head = f"{ONES[h]} hundred"
    if rest == 0:
        return head
    joiner = " and " if rng.random() < 0.35 else " "
    return head + joiner + cardinal_under_100(rest)


def cardinal(n, rng):
    """0..999999 as spoken words."""
    if n < 1000:
        return cardinal_under_1000(n, rng)
    th, rest = divmod(n, 1000)
    head = f"{cardinal_under_1000(th, rng)} thousand"
    return head if rest == 0 else f"{head} {cardinal_under_1000(rest, rng)}"


def ordinal_words(n):
    """1..99 as an ordinal."""
    if n < 20:
        return ORD_ONES[n]
    t, o = divmod(n, 10)
    return ORD_TENS[t] if o == 0 else f"{TENS[t]} {ORD_ONES[o]}"


def ordinal_suffix(n):
    if 11 <= n % 100 <= 13:
        return f"{n}th"
    return f"{n}" + {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def random_cardinal_value(rng):
    """Mostly small numbers, as in real speech, but every magnitude is covered."""
    r = rng.random()
    if r < 0.12:
        # Round numbers are common in speech: 300, 4000, 20000, 200000, 350000.
        return rng.choice([rng.randint(1, 9) * 100, rng.randint(1, 99) * 1000,
                           rng.randint(1, 9) * 100000, rng.randint(1, 999) * 1000,
                           rng.randint(1, 99) * 10000])
    r = rng.random()
    if r < 0.30:
        return rng.randint(0, 19)
    if r < 0.50:
        return rng.randint(20, 99)
    if r < 0.72:
        return rng.randint(100, 999)
    if r < 0.82:
        return rng.randint(1, 9) * 1000 + rng.choice([0, 0, rng.randint(1, 999)])
    if r < 0.92:
        return rng.randint(1000, 99999)
    return rng.randint(1000, 999999)


def span_cardinal(rng):
    n = random_cardinal_value(rng)
    return cardinal(n, rng), str(n)


def small_ordinal(rng, top):
    """Ordinal values skewed small: first, second and third are by far the most used."""
    r = rng.random()
    return rng.randint(1, 3) if r < 0.3 else rng.randint(1, 12) if r < 0.6 else rng.randint(1, top)


def span_ordinal(rng):
    n = small_ordinal(rng, 99)
    return f"the {ordinal_words(n)}", f"the {ordinal_suffix(n)}"


def year_words(y, rng):
    if y < 2000:
        rest = y - 1900
        if rest == 0:
            return "nineteen hundred"
        if rest < 10:
            return f"nineteen oh {ONES[rest]}"
        return f"nineteen {cardinal_under_100(rest)}"
    rest = y - 2000
    if rest == 0:
        return "two thousand"
    if rest < 10 or rng.random() < 0.4:
        return f"two thousand {cardinal_under_100(rest)}"
    return f"twenty {cardinal_under_100(rest)}"


def span_date(rng):
    month = rng.choice(MONTHS)
    d = small_ordinal(rng, 31)
    if rng.random() < 0.5:
        spoken = f"{month} {ordinal_words(d)}"
    else:
        spoken = f"the {ordinal_words(d)} of {month}"
    written = f"{month} {d}"
    if rng.random() < 0.55:
        y = rng.randint(1900, 2099)
        spoken += " " + year_words(y, rng)
        written += f", {y}"
    return spoken, written


def span_time(rng):
    h = rng.randint(1, 12)
    r = rng.random()
    if r < 0.2:
        return f"{ONES[h]} o'clock", f"{h}:00"
    ampm = rng.choice(["am", "pm"])
    if r < 0.45:
        return f"{ONES[h]} {ampm[0]} {ampm[1]}", f"{h} {ampm}"
    m = rng.randint(1, 59)
    minutes = f"oh {ONES[m]}" if m < 10 else cardinal_under_100(m)
    return f"{ONES[h]} {minutes} {ampm[0]} {ampm[1]}", f"{h}:{m:02d} {ampm}"


def span_money(rng):
    n = random_cardinal_value(rng) if rng.random() < 0.8 else rng.randint(1, 20)
    spoken = f"{cardinal(n, rng)} {'dollar' if n == 1 else 'dollars'}"
    written = f"${n}"
    if rng.random() < 0.35:
        c = rng.randint(1, 99)
        spoken += f" and {cardinal_under_100(c)} {'cent' if c == 1 else 'cents'}"
        written += f".{c:02d}"
    return spoken, written


def span_percent(rng):
    n = rng.randint(0, 100)
    return f"{cardinal(n, rng)} percent", f"{n}%"


SPANS = [(span_cardinal, 0.26), (span_ordinal, 0.18), (span_date, 0.18), (span_time, 0.13),
         (span_money, 0.14), (span_percent, 0.11)]


# ---------------------------------------------------------------- filler

def pseudo_word(rng):
    n = rng.randint(1, 4)
    w = "".join(rng.choice(CONSONANTS) + rng.choice(VOWELS) for _ in range(n))
    if rng.random() < 0.5:
        w += rng.choice(CONSONANTS)
    if rng.random() < 0.2:
        w = rng.choice(VOWELS) + w
    return w


class Filler:
    """Draws filler words: common words, dictionary words and pseudo-words."""

    def __init__(self, words, rng):
        self.words = words
        self.rng = rng
        self.sentence_style = 0.5
        self.the_share = 0.0  # training augmentation (train.py sets it); splits are drawn without it
        # Words that look like number words (fort, often, tent, nineteenths...) teach the
        # model to read whole words rather than prefixes.
        prefixes = {w[:3] for w in RESERVED if len(w) >= 3}
        self.lookalikes = [w for w in words if w[:3] in prefixes]
        # After "the", a word that merely starts like an ordinal (the film, the fine, the elevator)
        # must stay a word: such pairs are drawn on purpose.
        starts = {w[:2] for w in RESERVED if len(w) >= 2 and w not in MONTHS}
        self.the_lookalikes = [w for w in words + COMMON if w[:2] in starts and w not in RESERVED]

    def word(self):
        r = self.rng.random()
        if r < self.sentence_style:
            w = self.rng.choice(COMMON)
        elif r < 0.92:
            w = self.rng.choice(self.lookalikes if self.rng.random() < 0.12 else self.words)
            if self.rng.random() < 0.04:
                w += "'s"
        else:
            w = pseudo_word(self.rng)
        if w in RESERVED:
            return self.word()
        if self.rng.random() < 0.015:
            # A month or an ordinal-looking word on its own is still just a word.
            w = self.rng.choice(MONTHS + ["first", "second", "third", "fifth"])
        return w

    def chunk(self, n):
        words = []
        for _ in range(n):
            if self.the_share and self.rng.random() < self.the_share:
                words += ["the", self.rng.choice(self.the_lookalikes)]
            else:
                words.append(self.word())
        return words


def _is_number_word(w):
    return w in RESERVED and w not in MONTHS


def valid(words, spans_at):
    """Rejects arrangements the task excludes or that the rules would read differently."""
    inside = {i for s, e in spans_at for i in range(s, e + 1)}
    span_start = {s for s, _ in spans_at}
    ordinal_like = ("first", "second", "third", "fifth")
    for i, w in enumerate(words):
        if i in inside:
            continue
        prev = words[i - 1] if i > 0 else None
        # A filler month right before a span would form a date.
        if w in MONTHS and (i + 1) in span_start:
            return False
        # Filler ordinals after "the", a month or a number span would themselves be spans.
        if w in ordinal_like and (prev == "the" or prev in MONTHS or (i - 1) in inside):
            return False
    for s, e in spans_at:
        nxt = words[e + 1] if e + 1 < len(words) else None
        # "... hundred and <1-99>" across a filler "and" would be one number.
        if words[e] == "hundred" and nxt == "and" and e + 2 < len(words) and \
                _is_number_word(words[e + 2]):
            return False
        # "of <month>" after an ordinal span would make it a date.
        if words[s] == "the" and nxt == "of" and e + 2 < len(words) and words[e + 2] in MONTHS:
            return False
        # A month right after a span would be read as part of a date.
        if nxt in MONTHS:
            return False
    return True


def make_example(rng, filler, max_chunk=7):
    """One (spoken, written) pair within MAX_CHARS; filler chunks of at most max_chunk words."""
    while True:
        filler.sentence_style = rng.choice([0.25, 0.5, 0.75, 0.9])
        n_spans = rng.choices([0, 1, 2, 3], weights=[0.07, 0.5, 0.3, 0.13])[0]
        spoken, written, spans_at = [], [], []
        for k in range(n_spans + 1):
            lo = 0 if k == 0 or k == n_spans else 1
            n = rng.choices(range(lo, max_chunk + 1), weights=[3, 6, 5, 4, 3, 2, 1, 1][lo:max_chunk + 1])[0]
            words = filler.chunk(n)
            if 0 < k < n_spans and rng.random() < 0.08:
                words = ["and"]                    # "two and three", "one thousand and five"
            spoken += words
            written += words
            if k < n_spans:
                fn = rng.choices([f for f, _ in SPANS], weights=[w for _, w in SPANS])[0]
                s, w = fn(rng)
                start = len(spoken)
                spoken += s.split()
                spans_at.append((start, len(spoken) - 1))
                written += w.split()
        if not spoken:
            continue
        s, w = " ".join(spoken), " ".join(written)
        if len(s) > MAX_CHARS or not valid(spoken, spans_at):
            continue
        return s, w


SPLIT_SEEDS = {"train": 1, "validation": 2, "test": 3}


def examples(split, n, seed_offset=0, words=None):
    """n examples of one split, deterministic for (split, seed_offset)."""
    rng = random.Random(SPLIT_SEEDS[split] * 1_000_003 + seed_offset)
    filler = Filler(words or load_words(), rng)
    return [make_example(rng, filler) for _ in range(n)]


def held_out_sources(n_validation=2000, n_test=2000, words=None):
    """Spoken forms of the validation and test splits, kept out of training."""
    words = words or load_words()
    return {s for s, _ in examples("validation", n_validation, words=words)} | \
           {s for s, _ in examples("test", n_test, words=words)}


def write_split(path, pairs):
    with open(path, "w") as f:
        for s, w in pairs:
            f.write(f"{s}\t{w}\n")


def read_split(path):
    with open(path) as f:
        return [tuple(line.rstrip("\n").split("\t")) for line in f if line.strip()]


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--split", choices=SPLIT_SEEDS, default="train")
    p.add_argument("--n", type=int, default=10)
    p.add_argument("--out", help="write spoken<TAB>written lines to this file")
    a = p.parse_args()
    pairs = examples(a.split, a.n)
    if a.out:
        write_split(a.out, pairs)
    else:
        for s, w in pairs:
            print(f"{s}\n  -> {w}")
