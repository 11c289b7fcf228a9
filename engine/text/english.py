"""English phrase variants: determiners interchangeable, words matched in any inflection.

Applied to a rule's phrases when the pack is loaded, never to the turns: "cancel your
account" becomes the phrases "cancel the account", "cancelled my account"... in the one
phrase automaton, so a turn is searched exactly as before and evidence quotes its own words.

The inflections come from a small rule-based generator with a list of irregular verbs and
nouns. It over-generates ("cancel" also yields "cancell" forms that no one says): a form
nobody says costs an automaton entry and never matches. What it must not do is turn a word
into another real word ("news" into "new", "evening" into "even"), hence NOT_INFLECTED.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import product

# In a phrase, any of these stands for all of DETERMINER_TARGETS: "cancel your account"
# also matches "cancel the account", "cancel that account". "this" and "that" are targets
# only: in a phrase they are as often pronouns or conjunctions ("confirm that you're").
DETERMINERS = ("the", "a", "an", "your", "my", "our", "their")
DETERMINER_TARGETS = (*DETERMINERS, "this", "that")

# Function words and auxiliaries keep their form: "has been activated" must not become
# "will be activated", nor "i'm" anything else.
def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


FUNCTION_WORDS = _words(
    """i me my mine you your yours he him his she her hers it its we us our ours they them their
    theirs this that these those a an the and or but if so to of in on at for with from by about
    as into onto off out up down over under again not no nor never be am is are was were been
    being have has had having do does did done doing will would shall should can could may might
    must what when where who whom whose why how which there here then than too very just also
    please ok okay yes yeah yep nope all any some each every more most much many one ones"""
)

# Words the suffix rules would turn into another real word, or that are no inflection.
NOT_INFLECTED = _words(
    """news thing nothing something anything everything morning evening during king ring
    bring sing spring string wing swing sting ceiling sibling always perhaps series species
    plus bus gas yes this his was has does us thus less unless press process address business
    need feed speed seed red bed hundred indeed united wed bled fled shed sled"""
)

# Irregular verbs (base, past, past participle) and nouns (singular, plural).
_IRREGULAR = """
take took taken | give gave given | get got gotten | go went gone | come came come
send sent sent | pay paid paid | buy bought bought | say said said | tell told told
make made made | keep kept kept | leave left left | put put put | hear heard heard
know knew known | think thought thought | bring brought brought | speak spoke spoken
write wrote written | see saw seen | feel felt felt | find found found | hold held held
lose lost lost | mean meant meant | meet met met | run ran run | sell sold sold
set set set | sit sat sat | stand stood stood | understand understood understood
wake woke woken | drink drank drunk | forget forgot forgotten | choose chose chosen
begin began begun | break broke broken | cut cut cut | let let let | read read read
spend spent spent | lend lent lent | win won won | hang hung hung | sleep slept slept
quit quit quit | ring rang rung | shut shut shut | steal stole stolen | catch caught caught
teach taught taught | fall fell fallen | show showed shown | sign signed signed
man men | woman women | child children | person people | fee fees | wife wives
life lives | knife knives | half halves
"""


@lru_cache(maxsize=1)
def _irregular() -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """Each irregular form's base, and each base's irregular forms."""
    base_of: dict[str, str] = {}
    forms_of: dict[str, tuple[str, ...]] = {}
    for group in _IRREGULAR.replace("\n", "|").split("|"):
        words = group.split()
        if not words:
            continue
        forms_of[words[0]] = tuple(dict.fromkeys(words))
        for word in words:
            base_of.setdefault(word, words[0])
    return base_of, forms_of


_VOWELS = frozenset("aeiou")


def _bases(word: str) -> list[str]:
    """The words `word` may be an inflection of (itself included)."""
    base_of, _ = _irregular()
    if word in base_of:
        return [base_of[word]]
    found = [word]
    if len(word) < 4:
        return found

    def add(candidate: str) -> None:
        if len(candidate) >= 3 and candidate not in found:
            found.append(candidate)

    if word.endswith("ies"):
        add(word[:-3] + "y")
    elif word.endswith("es"):
        add(word[:-2])
        add(word[:-1])
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        add(word[:-1])
    if word.endswith("ied"):
        add(word[:-3] + "y")
    elif word.endswith("ed"):
        add(word[:-2])
        add(word[:-1])
        if len(word) > 4 and word[-3] == word[-4]:
            add(word[:-3])  # cancelled, stopped
    if word.endswith("ing") and len(word) > 5:
        stem = word[:-3]
        add(stem)
        add(stem + "e")
        if stem[-1] == stem[-2:-1]:
            add(stem[:-1])  # canceling is covered above; calling keeps "call"
    return found


def _forms_of_base(base: str) -> list[str]:
    _, forms_of = _irregular()
    forms = [base, *forms_of.get(base, ())]
    last = base[-1]
    consonant_y = last == "y" and len(base) > 1 and base[-2] not in _VOWELS
    if base.endswith(("s", "x", "z", "ch", "sh", "o")):
        forms.append(base + "es")
    elif consonant_y:
        forms.append(base[:-1] + "ies")
    else:
        forms.append(base + "s")
    if consonant_y:
        forms.append(base[:-1] + "ied")
    elif last == "e":
        forms.append(base + "d")
    else:
        forms.append(base + "ed")
    if last == "e" and not base.endswith(("ee", "ye", "oe")):
        forms.append(base[:-1] + "ing")
    else:
        forms.append(base + "ing")
    # cancel → cancelled, cancelling; stop → stopped (one vowel before a final consonant)
    if (
        len(base) >= 3
        and last not in _VOWELS
        and last not in "wxy"
        and base[-2] in _VOWELS
        and base[-3] not in _VOWELS
    ):
        forms.extend((base + last + "ed", base + last + "ing"))
    return forms


@lru_cache(maxsize=8192)
def word_forms(word: str) -> tuple[str, ...]:
    """Every inflection of an English word, the word first ("cancel" → cancels, cancelled,
    canceling...; "took" → take, takes, taken...). Function words keep their one form."""
    if (
        word in FUNCTION_WORDS
        or word in NOT_INFLECTED
        or not word.isalpha()
        or not word.isascii()
        or len(word) < 3
    ):
        return (word,)
    forms: dict[str, None] = {word: None}
    for base in _bases(word):
        for form in _forms_of_base(base):
            forms[form] = None
    return tuple(forms)


# Variants of one phrase at most: a phrase of four verbs would otherwise give thousands.
MAX_VARIANTS = 64

# Speech recognition often writes a contraction without its apostrophe ("dont", "im",
# "youre", "ive"). With `apostrophes` on, a phrase's word with an apostrophe also matches it
# written without one; a phrase of that one word does not when the bare form is another
# word ("we'll" is not "well", "i'll" not "ill").
APOSTROPHE_LOOKALIKES = _words("well ill hell shell were its id shed wed lets cant wont hed")


def bare_form(word: str, alone: bool) -> str | None:
    """The word written without its apostrophes, or None (no apostrophe, or a look-alike
    said alone)."""
    if "'" not in word:
        return None
    bare = word.replace("'", "")
    if not bare or (alone and bare in APOSTROPHE_LOOKALIKES):
        return None
    return bare


def phrase_variants(
    key: str, determiners: bool, lemmas: bool, apostrophes: bool = False
) -> tuple[str, ...]:
    """A normalised English phrase and its variants (the phrase itself first)."""
    words = key.split(" ")
    choices: list[tuple[str, ...]] = []
    count = 1
    for word in words:
        options: tuple[str, ...] = (word,)
        if determiners and word in DETERMINERS:
            options = (word, *(d for d in DETERMINER_TARGETS if d != word))
        elif lemmas:
            options = word_forms(word)
        bare = bare_form(word, len(words) == 1) if apostrophes else None
        if bare is not None and bare not in options:
            options = (*options, bare)
        if count * len(options) > MAX_VARIANTS:
            options = (word,)
        count *= len(options)
        choices.append(options)
    if count == 1:
        return (key,)
    return tuple(" ".join(combination) for combination in product(*choices))
