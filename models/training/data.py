"""Data for the inverse text normalization (ITN) task: spoken form -> written form.

Version 2 of the task in shared/ITN-TASK.md. Every example is built span by span, so the
written form is known by construction: filler words are copied, each span (cardinal, scale,
negative, decimal, ordinal, date, year, decade, time, money, percent, measure, telephone,
email, web address) is rendered in both forms. Version 1's classes are the narrow cases of
version 2's (`--v1` draws only those, within 96 characters).

Sentences mix three sources of filler so that the models learn to copy any word:
  * a list of common English function and content words (realistic frames),
  * a 60k-word dictionary (words.txt),
  * pronounceable pseudo-words that exist in no dictionary.
Words that also occur inside spans (point, minus, half, past, feet, miles, degrees, ...) are
filler too, except where they would join a neighbouring span; `valid` rejects those sentences.

Splits are disjoint by construction: train, validation and test use different seeds
and the test and validation sentences are removed from the training stream.

    /usr/bin/python3 data.py --split test --n 5            # print a few examples, with classes
    /usr/bin/python3 data.py --split test --n 3000 --out ../eval/itn-test.tsv
"""
import argparse
import os
import random

MAX_CHARS = 256      # longest spoken-form input the task allows (version 2)
MAX_CHARS_V1 = 96

ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
        "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
        "seventeen", "eighteen", "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
ORD_ONES = ["zeroth", "first", "second", "third", "fourth", "fifth", "sixth", "seventh",
            "eighth", "ninth", "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth",
            "fifteenth", "sixteenth", "seventeenth", "eighteenth", "nineteenth"]
ORD_TENS = ["", "", "twentieth", "thirtieth", "fortieth", "fiftieth", "sixtieth",
            "seventieth", "eightieth", "ninetieth"]
DECADES = ["", "", "twenties", "thirties", "forties", "fifties", "sixties", "seventies",
           "eighties", "nineties"]
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december"]
SCALES = [(10 ** 12, "trillion"), (10 ** 9, "billion"), (10 ** 6, "million"), (1000, "thousand")]
DIGIT_WORDS = {0: ["zero", "oh", "o"], **{d: [ONES[d]] for d in range(1, 10)}}
CURRENCIES = {"dollar": "$", "euro": "€", "pound": "£"}
# spoken unit (singular, plural) -> written
UNITS = [("kilometer", "kilometers", "km"), ("meter", "meters", "m"), ("centimeter", "centimeters", "cm"),
         ("millimeter", "millimeters", "mm"), ("kilogram", "kilograms", "kg"), ("gram", "grams", "g"),
         ("milligram", "milligrams", "mg"), ("mile", "miles", "mi"), ("foot", "feet", "ft"),
         ("inch", "inches", "in"), ("liter", "liters", "l"), ("milliliter", "milliliters", "ml"),
         ("kilometer per hour", "kilometers per hour", "km/h"), ("mile per hour", "miles per hour", "mph"),
         ("degree celsius", "degrees celsius", "°C"), ("degree fahrenheit", "degrees fahrenheit", "°F"),
         ("kilobyte", "kilobytes", "KB"), ("megabyte", "megabytes", "MB"), ("gigabyte", "gigabytes", "GB"),
         ("terabyte", "terabytes", "TB"), ("hertz", "hertz", "Hz"), ("kilohertz", "kilohertz", "kHz"),
         ("megahertz", "megahertz", "MHz"), ("gigahertz", "gigahertz", "GHz"), ("watt", "watts", "W"),
         ("kilowatt", "kilowatts", "kW"), ("megawatt", "megawatts", "MW")]
DETERMINERS = ["the", "his", "her", "its", "their", "our", "my", "your", "every"]
TLDS = ["com", "org", "net", "edu", "io", "gov", "fr", "de", "uk"]
LETTERS = [chr(c) for c in range(ord("a"), ord("z") + 1)]
CLASSES = ["cardinal", "scale", "negative", "decimal", "ordinal", "date", "year", "decade", "time",
           "money", "percent", "measure", "telephone", "email", "web"]

# Words that only ever occur inside spans, never as filler.
RESERVED = set(ONES + TENS[2:] + ORD_ONES + ORD_TENS + MONTHS + DECADES[2:] + [
    "hundred", "thousand", "million", "billion", "trillion", "hundredth", "thousandth",
    "dollar", "dollars", "euro", "euros", "pound", "pounds", "cent", "cents", "pence",
    "percent", "o'clock", "oh", "o", "m", "zeroth", "dot", "underscore", "dash", "www",
    "hertz", "kilohertz", "megahertz", "gigahertz", "celsius", "fahrenheit", "thousands"])
# Words of spans that are also ordinary English are filler too, but never next to a span they
# would join: a filler word in BEFORE_SPAN is never right before a span, one in AFTER_SPAN never
# right after one (minus five, point five, quarter past, five feet, five point, ...).
BEFORE_SPAN = {"minus", "point", "double", "triple", "quarter", "half", "past", "w"}
AFTER_SPAN = {w for s, p, _ in UNITS for w in (s.split()[0], p.split()[0])} | {"point", "per", "p"} | set(DECADES[2:])
MONEY_WORDS = {"hundred", "thousand"} | {c + x for c in CURRENCIES for x in ("", "s")}

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
we're they're i've we've i'll we'll she's he's what's who's aren't couldn't wouldn't
point minus half quarter past double triple per feet foot miles mile inch inches meters
grams degrees watts temperature distance speed weight height storage drive battery
population budget revenue profit loss debt salary fee fare deposit balance total
address contact reach write send mail site website online call dial extension""".split()

NAMES = """john mary james anna david sarah michael laura peter emma paul julia mark lisa chris
kate alex maria tom nina sam eva max lucy ben amy dan zoe joe mia leo ivy ian tina adam rosa
smith jones brown lee wang garcia miller davis wilson moore taylor clark lewis hall young king
info sales support admin contact hello team office news jobs help billing mail""".split()
DOMAINS = """gmail yahoo hotmail outlook example nvidia google apple amazon github acme mit
stanford harvard oxford company school store bank news shop cloud data tech lab""".split()

VOWELS = "aeiou"
CONSONANTS = "bcdfghjklmnpqrstvwxyz"


def load_words(path=None):
    path = path or os.path.join(os.path.dirname(os.path.abspath(__file__)), "words.txt")
    with open(path) as f:
        return [w for w in (l.strip() for l in f) if w and w not in RESERVED]


# ---------------------------------------------------------------- numbers

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


def cardinal(n, rng, wide=True):
    """0..999 trillion as spoken words. wide: also `eleven hundred` forms and `thousand and`."""
    if n < 1000:
        return cardinal_under_1000(n, rng)
    if wide and 1100 <= n <= 9999 and (n // 100) % 10 != 0 and rng.random() < 0.3:
        h, rest = divmod(n, 100)             # twenty one hundred and eleven
        head = f"{cardinal_under_100(h)} hundred"
        if rest == 0:
            return head
        return head + (" and " if rng.random() < 0.4 else " ") + cardinal_under_100(rest)
    parts = []
    for value, word in SCALES:
        q, n = divmod(n, value)
        if q:
            parts.append(f"{cardinal_under_1000(q, rng)} {word}")
    if n:
        if wide and n < 100 and parts[-1].endswith("thousand") and rng.random() < 0.3:
            parts.append("and")              # two thousand and nine
        parts.append(cardinal_under_1000(n, rng))
    return " ".join(parts)


def ordinal_words(n, rng):
    """1..999999 as an ordinal: the cardinal with its last word made ordinal."""
    if n < 100:
        if n < 20:
            return ORD_ONES[n]
        t, o = divmod(n, 10)
        return ORD_TENS[t] if o == 0 else f"{TENS[t]} {ORD_ONES[o]}"
    words = cardinal(n, rng, wide=n % 100 != 0 or n >= 10000).split()   # eleven hundred twenty first
    last = words[-1]
    if last == "hundred":
        words[-1] = "hundredth"
    elif last == "thousand":
        words[-1] = "thousandth"
    else:
        rest = n % 100
        k = 2 if rest >= 20 and rest % 10 else 1
        words = words[:-k] + ordinal_words(rest, rng).split()
    return " ".join(words)


ORD_ROUND = {100: "hundredth", 1000: "thousandth"}


def ordinal_suffix(n):
    if 11 <= n % 100 <= 13:
        return f"{n}th"
    return f"{n}" + {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def random_cardinal_value(rng, top=10 ** 15 - 1):
    """Mostly small numbers, as in real speech, but every magnitude up to `top` is covered.

    A value above `top` is drawn again: clamping it to `top` made `top` itself the commonest
    value (62% of the draws under 100, 32% under 9999)."""
    while True:
        v = _cardinal_draw(rng)
        if v <= top:
            return v


def _sparse_cardinal(rng):
    """A large number with some groups of three left out, as people say round figures: two
    million three, one billion two hundred million, one million two hundred thousand."""
    groups = rng.randint(2, 4)                  # the highest group: million, billion or trillion
    v = (rng.randint(1, 20) if rng.random() < 0.5 else rng.randint(1, 999)) * 1000 ** groups
    for g in range(groups):
        if rng.random() < 0.45:
            v += rng.choice([rng.randint(1, 9) * 100, rng.randint(1, 99), rng.randint(1, 999)]) * 1000 ** g
    return v


def _cardinal_draw(rng):
    r = rng.random()
    if r < 0.04:
        v = _sparse_cardinal(rng)
    elif r < 0.16:
        v = rng.choice([rng.randint(1, 9) * 100, rng.randint(1, 99) * 1000, rng.randint(1, 9) * 100000,
                        rng.randint(1, 999) * 1000, rng.randint(1, 99) * 10000, rng.randint(11, 99) * 100,
                        rng.randint(1, 999) * 10 ** 6 + rng.randint(1, 999) * 1000])
    else:
        r = rng.random()
        if r < 0.25:
            v = rng.randint(0, 19)
        elif r < 0.43:
            v = rng.randint(20, 99)
        elif r < 0.62:
            v = rng.randint(100, 999)
        elif r < 0.72:
            v = rng.randint(1, 9) * 1000 + rng.choice([0, rng.randint(1, 99), rng.randint(1, 999)])
        elif r < 0.82:
            v = rng.randint(1000, 99999)
        elif r < 0.90:
            v = rng.randint(1000, 999999)
        elif r < 0.96:
            v = rng.randint(10 ** 6, 10 ** 9 - 1)
        else:
            v = rng.randint(10 ** 9, 10 ** 15 - 1)
    return v


def single_scale(n):
    """(k, word) when n is k million/billion/trillion with nothing below: it is written `k word`."""
    for value, word in SCALES[:3]:
        if n >= value and n % value == 0 and n // value < 1000:
            return n // value, word
    return None


def cardinal_written(n):
    s = single_scale(n)
    return f"{s[0]} {s[1]}" if s else str(n)


def digits_spoken(digits, rng):
    """Digits one by one: zero, oh or o for 0."""
    return " ".join(rng.choice(DIGIT_WORDS[int(d)]) for d in digits)


def decimal(rng, top=999999):
    """(spoken, written) of `<cardinal> point <digits>` or `point <digits>`."""
    n = rng.choice([0, 1, 2, 3, 5, 7, 10, 12, 18, 25, 60, 99]) if rng.random() < 0.4 else \
        random_cardinal_value(rng, top)
    k = rng.choices([1, 2, 3, 4], weights=[5, 4, 2, 1])[0]
    digits = "".join(str(rng.randint(0, 9)) for _ in range(k))
    if rng.random() < 0.15:
        return f"point {digits_spoken(digits, rng)}", f".{digits}"
    return f"{cardinal(n, rng)} point {digits_spoken(digits, rng)}", f"{n}.{digits}"


def quantity(rng, decimal_share=0.3, top=10 ** 15 - 1):
    """A cardinal or a decimal: (spoken, written, is_one, cls)."""
    if rng.random() < decimal_share:
        s, w = decimal(rng)
        return s, w, False, "decimal"
    n = random_cardinal_value(rng, top)
    return cardinal(n, rng), cardinal_written(n), n == 1, "scale" if single_scale(n) else "cardinal"


# ---------------------------------------------------------------- spans

def span_cardinal(rng, v1=False):
    if v1:
        n = random_cardinal_value(rng, 999999)
        return cardinal(n, rng, wide=False), str(n), "cardinal"
    n = random_cardinal_value(rng)
    return cardinal(n, rng), cardinal_written(n), "scale" if single_scale(n) else "cardinal"


def span_scale(rng, v1=False):
    if rng.random() < 0.35:
        s, w = decimal(rng, top=999 if rng.random() < 0.9 else 9999)
        if not w.startswith(".") and float(w) < 10000:
            word = rng.choice(["million", "billion", "trillion"])
            return f"{s} {word}", f"{w} {word}", "scale"
    k = rng.randint(1, 999) if rng.random() < 0.5 else rng.randint(1, 20)
    word = rng.choice(["million", "billion", "trillion"])
    return f"{cardinal(k, rng)} {word}", f"{k} {word}", "scale"


def span_negative(rng, v1=False):
    s, w, _, _ = quantity(rng, 0.4, top=10 ** 9)
    return f"minus {s}", f"-{w}", "negative"


def span_decimal(rng, v1=False):
    s, w = decimal(rng)
    return s, w, "decimal"


def small_ordinal(rng, top):
    """Ordinal values skewed small: first, second and third are by far the most used."""
    r = rng.random()
    return rng.randint(1, 3) if r < 0.3 else rng.randint(1, 12) if r < 0.6 else rng.randint(1, top)


def span_ordinal(rng, v1=False):
    if v1:
        n = small_ordinal(rng, 99)
        return f"the {ordinal_words(n, rng)}", f"the {ordinal_suffix(n)}", "ordinal"
    det = "the" if rng.random() < 0.55 else rng.choice(DETERMINERS)
    r = rng.random()
    n = small_ordinal(rng, 99) if r < 0.7 else rng.randint(100, 999) if r < 0.85 else \
        rng.choice([rng.randint(1, 999) * 1000, rng.randint(1000, 999999)])
    if r > 0.97:                                  # the hundredth, the thousandth: no "one"
        n = rng.choice([100, 1000])
        return f"{det} {ORD_ROUND[n]}", f"{det} {ordinal_suffix(n)}", "ordinal"
    return f"{det} {ordinal_words(n, rng)}", f"{det} {ordinal_suffix(n)}", "ordinal"


def year_words(y, rng, v1=False):
    """A year as spoken: nineteen oh five, twenty twelve, two thousand and nine, eleven hundred."""
    if v1:
        if y < 2000:
            rest = y - 1900
            return "nineteen hundred" if rest == 0 else f"nineteen oh {ONES[rest]}" if rest < 10 else \
                f"nineteen {cardinal_under_100(rest)}"
        rest = y - 2000
        if rest == 0:
            return "two thousand"
        return f"two thousand {cardinal_under_100(rest)}" if rest < 10 or rng.random() < 0.4 else \
            f"twenty {cardinal_under_100(rest)}"
    hi, lo = divmod(y, 100)
    if 2000 <= y <= 2099 and (lo < 10 or rng.random() < 0.35):
        if lo == 0:
            return "two thousand"
        return f"two thousand {'and ' if rng.random() < 0.3 else ''}{cardinal_under_100(lo)}"
    if lo == 0:
        return f"{ONES[hi]} hundred"
    if lo < 10:
        return f"{ONES[hi]} {rng.choice(['oh', 'oh', 'o'])} {ONES[lo]}"
    return f"{cardinal_under_100(hi)} {cardinal_under_100(lo)}"


def random_year(rng, v1=False):
    if v1:
        return rng.randint(1900, 2099)
    r = rng.random()
    return rng.randint(1900, 2099) if r < 0.75 else rng.randint(1000, 1899)


def span_year(rng, v1=False):
    y = random_year(rng)
    return year_words(y, rng), str(y), "year"


def span_date(rng, v1=False):
    month = rng.choice(MONTHS)
    d = small_ordinal(rng, 31)
    r = 0.0 if v1 else rng.random()
    if r > 0.85:
        y = random_year(rng)
        return f"{month} {year_words(y, rng)}", f"{month} {y}", "date"
    if r > 0.72:
        return f"{month} {cardinal_under_100(d)}", f"{month} {d}", "date"
    if rng.random() < 0.5:
        spoken = f"{month} {ordinal_words(d, rng)}"
    else:
        spoken = f"the {ordinal_words(d, rng)} of {month}"
    written = f"{month} {d}"
    if rng.random() < 0.55:
        y = random_year(rng, v1)
        spoken += " " + year_words(y, rng, v1)
        written += f", {y}"
    return spoken, written, "date"


def span_decade(rng, v1=False):
    if rng.random() < 0.12:
        return "the two thousands", "the 2000s", "decade"
    century = rng.choice(["nineteen", "twenty"]) if rng.random() < 0.3 else "nineteen"
    t = rng.randint(2, 9)
    the = "the " if rng.random() < 0.6 else ""
    return f"{the}{century} {DECADES[t]}", f"{the}{19 if century == 'nineteen' else 20}{t}0s", "decade"


def span_time(rng, v1=False):
    h = rng.randint(1, 12)
    ampm = rng.choice(["am", "pm"])
    r = rng.random()
    if not v1 and r < 0.35:
        # quarter past three, half past ten, twenty five to one
        word, minutes = rng.choice([("quarter", 15), ("half", 30), ("five", 5), ("ten", 10), ("twenty", 20),
                                    ("twenty five", 25)])
        to = word != "half" and rng.random() < 0.45
        suffix = rng.random() < 0.35 and not (to and h == 12)
        spoken = f"{word} {'to' if to else 'past'} {ONES[h]}" + (f" {ampm[0]} {ampm[1]}" if suffix else "")
        hour = (h - 2) % 12 + 1 if to else h
        written = f"{hour}:{60 - minutes if to else minutes:02d}" + (f" {ampm}" if suffix else "")
        return spoken, written, "time"
    r = rng.random()
    if r < 0.2:
        return f"{ONES[h]} o'clock", f"{h}:00", "time"
    if r < 0.45:
        return f"{ONES[h]} {ampm[0]} {ampm[1]}", f"{h} {ampm}", "time"
    m = rng.randint(1, 59)
    minutes = f"{rng.choice(['oh', 'oh', 'o']) if not v1 else 'oh'} {ONES[m]}" if m < 10 else cardinal_under_100(m)
    return f"{ONES[h]} {minutes} {ampm[0]} {ampm[1]}", f"{h}:{m:02d} {ampm}", "time"


def span_money(rng, v1=False):
    if v1:
        n = random_cardinal_value(rng, 999999) if rng.random() < 0.8 else rng.randint(1, 20)
        spoken, written = f"{cardinal(n, rng, wide=False)} {'dollar' if n == 1 else 'dollars'}", f"${n}"
        if rng.random() < 0.35:
            c = rng.randint(1, 99)
            spoken += f" and {cardinal_under_100(c)} {'cent' if c == 1 else 'cents'}"
            written += f".{c:02d}"
        return spoken, written, "money"
    cur = rng.choices(list(CURRENCIES), weights=[6, 2, 2])[0]
    sym = CURRENCIES[cur]
    if rng.random() < 0.08:
        c = rng.randint(1, 99)
        return f"{cardinal_under_100(c)} {'cent' if c == 1 else 'cents'}", f"$0.{c:02d}", "money"
    r = rng.random()
    if r < 0.15:                                              # two point five billion dollars
        s, w, _ = span_scale(rng)
        return f"{s} {cur}s", f"{sym}{w}", "money"
    if r < 0.3:
        s, w = decimal(rng, top=9999)
        return f"{s} {cur}s", f"{sym}{w}", "money"
    n = random_cardinal_value(rng, 10 ** 9) if rng.random() < 0.8 else rng.randint(1, 20)
    one = (n == 1) != (rng.random() < 0.08)                  # `twenty dollar` is money too
    spoken, written = f"{cardinal(n, rng)} {cur if one else cur + 's'}", f"{sym}{cardinal_written(n)}"
    if rng.random() < 0.35 and not single_scale(n):
        c = rng.randint(1, 99)
        unit = "pence" if cur == "pound" else "cent" if c == 1 else "cents"
        spoken += f"{' and' if rng.random() < 0.6 else ''} {cardinal_under_100(c)} {unit}"
        written += f".{c:02d}"
    return spoken, written, "money"


def span_percent(rng, v1=False):
    if v1:
        n = rng.randint(0, 100)
        return f"{cardinal(n, rng, wide=False)} percent", f"{n}%", "percent"
    r = rng.random()
    if r < 0.5:
        n = rng.randint(0, 100)
        s, w = cardinal(n, rng), str(n)
    elif r < 0.8:
        s, w = decimal(rng, top=100)
    else:
        s, w, _, _ = quantity(rng, 0.3, top=10 ** 6)
    if rng.random() < 0.1:
        s, w = f"minus {s}", f"-{w}"
    return f"{s} percent", f"{w}%", "percent"


def span_measure(rng, v1=False):
    single, plural, written_unit = rng.choice(UNITS)
    if rng.random() < 0.6:
        n = rng.randint(0, 100) if rng.random() < 0.6 else random_cardinal_value(rng, 10 ** 9)
        s, w, one = cardinal(n, rng), cardinal_written(n), n == 1
    else:
        s, w = decimal(rng, top=1000)
        one = False
    if rng.random() < 0.1:
        s, w = f"minus {s}", f"-{w}"
    one = one != (rng.random() < 0.1)                       # `twenty foot`, `zero feet`
    return f"{s} {single if one else plural}", f"{w} {written_unit}", "measure"


def span_telephone(rng, v1=False):
    digits = [rng.randint(0, 9) for _ in range(10)]
    for _ in range(rng.choice([0, 0, 1, 1, 2])):   # repeats, spoken with double / triple
        i = rng.randint(0, 7)
        k = rng.choice([2, 2, 3])
        digits[i:i + k] = [digits[i]] * k
    words, i = [], 0
    while i < 10:
        run = 1
        while i + run < 10 and digits[i + run] == digits[i] and run < 3:
            run += 1
        d = rng.choice(DIGIT_WORDS[digits[i]])
        if run == 3 and rng.random() < 0.8:
            words += ["triple", d]
            i += 3
        elif run >= 2 and rng.random() < 0.7:
            words += ["double", d]
            i += 2
        else:
            words.append(d)
            i += 1
    s = "".join(map(str, digits))
    return " ".join(words), f"{s[:3]}-{s[3:6]}-{s[6:]}", "telephone"


def name_part(rng, pool):
    """One piece of an address: spelled letters (a b c), letters and a word (g mail), or a word."""
    r = rng.random()
    if r < 0.3:
        k = rng.choices(range(1, 11), weights=[6, 5, 5, 3, 2, 1, 1, 1, 1, 1])[0]
        letters = [rng.choice(LETTERS) for _ in range(k)]
        tail = [rng.choice(pool)] if k <= 2 and rng.random() < 0.4 else []
        return letters + tail, "".join(letters + tail)
    w = rng.choice(pool) if rng.random() < 0.7 else rng.choice(COMMON_WORDS) if rng.random() < 0.5 else pseudo_word(rng)
    return [w], w


def address(rng, pool, max_parts):
    spoken, written = [], ""
    n = rng.choices(range(1, max_parts + 1), weights=[6, 3, 1][:max_parts])[0]
    for k in range(n):
        s, w = name_part(rng, pool)
        if k:
            joiner = rng.choices(["dot", "underscore", "dash"], weights=[6, 2, 2])[0]
            spoken.append(joiner)
            written += {"dot": ".", "underscore": "_", "dash": "-"}[joiner]
        spoken += s
        written += w
    return spoken, written


def tld_spoken(rng, tld):
    """A top-level domain as a word, or spelled (e d u)."""
    return " ".join(tld) if len(tld) > 1 and rng.random() < 0.15 else tld


def span_email(rng, v1=False):
    local_s, local_w = address(rng, NAMES, 3)
    dom_s, dom_w = address(rng, DOMAINS, 2)
    tld = rng.choice(TLDS)
    return " ".join(local_s + ["at"] + dom_s + ["dot", tld_spoken(rng, tld)]), f"{local_w}@{dom_w}.{tld}", "email"


def span_web(rng, v1=False):
    name_s, name_w = address(rng, DOMAINS, 2)
    tld = rng.choice(TLDS)
    return " ".join(["w", "w", "w", "dot"] + name_s + ["dot", tld_spoken(rng, tld)]), f"www.{name_w}.{tld}", "web"


SPANS_V1 = [(span_cardinal, 0.26), (span_ordinal, 0.18), (span_date, 0.18), (span_time, 0.13),
            (span_money, 0.14), (span_percent, 0.11)]
SPANS = [(span_cardinal, 0.13), (span_scale, 0.04), (span_negative, 0.04), (span_decimal, 0.06),
         (span_ordinal, 0.09), (span_date, 0.09), (span_year, 0.05), (span_decade, 0.03),
         (span_time, 0.09), (span_money, 0.10), (span_percent, 0.06), (span_measure, 0.09),
         (span_telephone, 0.05), (span_email, 0.05), (span_web, 0.03)]


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

    def __init__(self, words, rng, v1=False):
        self.words = words
        self.rng = rng
        self.v1 = v1
        self.sentence_style = 0.5
        self.the_share = 0.0  # training augmentation (train.py sets it); splits are drawn without it
        self.prep_share = 0.0  # the same: how often the word right before a span is a preposition
        # Words that look like number words (fort, often, tent, nineteenths...) teach the
        # model to read whole words rather than prefixes.
        prefixes = {w[:3] for w in RESERVED if len(w) >= 3}
        self.lookalikes = [w for w in words if w[:3] in prefixes]
        # After "the", a word that merely starts like an ordinal (the film, the fine, the elevator)
        # must stay a word: such pairs are drawn on purpose.
        starts = {w[:2] for w in RESERVED if len(w) >= 2 and w not in MONTHS}
        self.the_lookalikes = [w for w in words + COMMON if w[:2] in starts and w not in RESERVED]
        self.common = [w for w in COMMON if not v1 or w in COMMON_V1]

    def word(self):
        r = self.rng.random()
        if r < self.sentence_style:
            w = self.rng.choice(self.common)
        elif r < 0.92:
            w = self.rng.choice(self.lookalikes if self.rng.random() < 0.12 else self.words)
            if self.rng.random() < 0.04:
                w += "'s"
        else:
            w = pseudo_word(self.rng)
        if w in RESERVED:
            return self.word()
        if self.rng.random() < 0.015:
            # A month, an ordinal-looking word or a decade without its century (the eighties)
            # on its own is still just a word.
            w = self.rng.choice(MONTHS + ["first", "second", "third", "fifth"] + DECADES[2:])
        return w

    def chunk(self, n):
        words = []
        for _ in range(n):
            if self.the_share and self.rng.random() < self.the_share:
                words += ["the", self.rng.choice(self.the_lookalikes)]
            else:
                words.append(self.word())
        return words


COMMON_V1 = set(COMMON[:COMMON.index("point")])
PREPOSITIONS = ["at", "at", "at", "by", "by", "for", "of", "on", "in", "from", "to", "about", "around",
                "over", "under", "after", "before", "until", "than", "with", "near"]
COMMON_WORDS = [w for w in COMMON if w.isalpha() and w not in RESERVED and len(w) > 1]


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
        # Filler ordinals after a determiner, a month or a span would themselves be spans.
        if w in ordinal_like and (prev in DETERMINERS or prev in MONTHS or (i - 1) in inside):
            return False
    for s, e in spans_at:
        prev = words[s - 1] if s > 0 and (s - 1) not in inside else None
        nxt = words[e + 1] if e + 1 < len(words) else None
        # "... hundred and <1-99>" across a filler "and" would be one number.
        if words[e] in ("hundred", "thousand") and nxt == "and" and e + 2 < len(words) and \
                _is_number_word(words[e + 2]):
            return False
        # "of <month>" after an ordinal span would make it a date.
        if words[s] in DETERMINERS and nxt == "of" and e + 2 < len(words) and words[e + 2] in MONTHS:
            return False
        # A month right after a span would be read as part of a date.
        if nxt in MONTHS:
            return False
        # Filler that would join the span: minus five, point five, quarter past, five feet, ...
        if prev in BEFORE_SPAN or (nxt in AFTER_SPAN and (e + 1) not in inside):
            return False
        # A spelled letter before an address would be part of it.
        if prev is not None and len(prev) == 1 and words[e] in TLDS:
            return False
        if s >= 2 and (s - 2) in inside:
            # ten to five, five past six: a time; five dollars and ten cents, two thousand and nine: one span
            if prev in ("to", "past") or (prev == "and" and words[s - 2] in MONEY_WORDS):
                return False
    return True


def make_example(rng, filler, max_chunk=7, v1=False):
    """One (spoken, written, classes) triple within the length limit; filler chunks of at most max_chunk words."""
    limit = MAX_CHARS_V1 if v1 else MAX_CHARS
    spans = SPANS_V1 if v1 else SPANS
    weights = [3, 6, 5, 4, 3, 2, 1, 1, 1, 1, 1][:max_chunk + 1]
    while True:
        filler.sentence_style = rng.choice([0.25, 0.5, 0.75, 0.9])
        if v1:
            n_spans = rng.choices([0, 1, 2, 3], weights=[0.07, 0.5, 0.3, 0.13])[0]
        else:
            n_spans = rng.choices([0, 1, 2, 3, 4, 5], weights=[0.05, 0.42, 0.28, 0.13, 0.07, 0.05])[0]
        alone = not v1 and n_spans == 1 and rng.random() < 0.12     # the whole input is one span
        spoken, written, spans_at, classes = [], [], [], []
        for k in range(n_spans + 1):
            lo = 0 if k == 0 or k == n_spans else 1
            n = 0 if alone else rng.choices(range(lo, max_chunk + 1), weights=weights[lo:max_chunk + 1])[0]
            chunk = filler.chunk(n)
            if 0 < k < n_spans and rng.random() < 0.08:
                chunk = ["and"]                    # "two and three", "one thousand and five"
            elif chunk and k < n_spans and filler.prep_share and rng.random() < filler.prep_share:
                chunk[-1] = rng.choice(PREPOSITIONS)   # at ten to eleven, by seventy points: not an address, not money
            spoken += chunk
            written += chunk
            if k < n_spans:
                fn = rng.choices([f for f, _ in spans], weights=[w for _, w in spans])[0]
                s, w, cls = fn(rng, v1)
                start = len(spoken)
                spoken += s.split()
                spans_at.append((start, len(spoken) - 1))
                written += w.split()
                classes.append(cls)
        if not spoken:
            continue
        s, w = " ".join(spoken), " ".join(written)
        if len(s) > limit or not valid(spoken, spans_at):
            continue
        return s, w, sorted(set(classes)) or ["plain"]


SPLIT_SEEDS = {"train": 1, "validation": 2, "test": 3}


def examples(split, n, seed_offset=0, words=None, v1=False):
    """n (spoken, written, classes) examples of one split, deterministic for (split, seed_offset, v1)."""
    rng = random.Random(SPLIT_SEEDS[split] * 1_000_003 + seed_offset + (17 if v1 else 0))
    filler = Filler(words or load_words(), rng, v1)
    return [make_example(rng, filler, v1=v1) for _ in range(n)]


EVAL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "eval")


def held_out_sources(n_validation=2000, n_test=3000, words=None):
    """Spoken forms kept out of training: the validation and test splits as this generator draws
    them, and every sentence of the committed evaluation files (`models/eval/*.tsv`), which
    earlier versions of the generator drew."""
    words = words or load_words()
    sources = {e[0] for e in examples("validation", n_validation, words=words)} | \
              {e[0] for e in examples("test", n_test, words=words)}
    for name in sorted(os.listdir(EVAL_DIR)) if os.path.isdir(EVAL_DIR) else []:
        if name.endswith(".tsv"):
            sources |= {spoken for spoken, _ in read_split(os.path.join(EVAL_DIR, name))}
    return sources


def write_split(path, rows):
    """spoken<TAB>written[<TAB>classes] lines; classes comma-separated."""
    with open(path, "w") as f:
        for r in rows:
            f.write("\t".join([r[0], r[1]] + ([",".join(r[2])] if len(r) > 2 else [])) + "\n")


def read_split(path):
    """(spoken, written) pairs of a split file (a third column, the classes, is ignored here)."""
    with open(path) as f:
        return [tuple(line.rstrip("\n").split("\t")[:2]) for line in f if line.strip()]


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--split", choices=SPLIT_SEEDS, default="train")
    p.add_argument("--n", type=int, default=10)
    p.add_argument("--v1", action="store_true", help="version 1's classes only, within 96 characters")
    p.add_argument("--out", help="write spoken<TAB>written<TAB>classes lines to this file")
    a = p.parse_args()
    rows = examples(a.split, a.n, v1=a.v1)
    if a.out:
        write_split(a.out, rows)
    else:
        for s, w, c in rows:
            print(f"{s}\n  -> {w}   [{','.join(c)}]")
