"""What a careful editor checks in a model's answer before passing it on.

Small models answer a long prompt with a chatty one-liner ("I'm ready to help! What's
the topic?"), repeat one sentence until they run out of tokens, or give three sections
the same title. The `*_problem` functions say what is wrong in words the model is told
on its retry (and a person reads in the progress line); `tidy` removes what is safe to
remove without asking the model again.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any


class OutputRejected(ValueError):
    """A check refused the model's answer: the node tries again at once (no backoff
    wait, the server is fine) and tells the model what was wrong."""


def retry_note(node: Any) -> str:
    """What the node's last try was refused for, to tell the model on this one."""
    problem = getattr(node, "problem", None)
    return f"\nYour last answer was refused: {problem}." if problem else ""


def refuse(node: Any, problem: str | None, answer: Any) -> None:
    """Remember the answer (for the node's fallback) and the problem (for its retry);
    raise `OutputRejected` if there is one. The runner gives every run, and every
    batch item, its own copy of the node, so this state is per try sequence."""
    node.problem, node.last = problem, answer
    if problem:
        raise OutputRejected(problem)


# Openings of an answer that is not the work: a refusal, or a question back.
_NOT_THE_WORK = re.compile(
    r"^\s*(i'?m sorry|sorry,|i can(no|')t|i am unable|i'?m unable|as an ai|"
    r"(rewrite|write|revise) (this|the) (article|section|paragraph|draft)\b|"
    r"i'?m (ready|happy|here) to help|i'?d be (happy|glad) to help|"
    r"(could|can|would) you (please )?(provide|tell|share|give|clarify)|"
    r"please provide|what('?s| is) the (topic|task)|what would you like)",
    re.IGNORECASE,
)
# A first line that introduces the answer instead of being part of it.
_PREAMBLE = re.compile(
    r"^\s*(here('?s| is| are)\b|sure[,!.]|certainly[,!.]|of course[,!.]|okay[,!.]|"
    r"absolutely[,!.])[^\n]*(\n|$)",
    re.IGNORECASE,
)
# "…could be more engaging. Here's an edited version:" - commentary before the work.
_INTRODUCED = re.compile(
    r"^[^\n]{0,300}?\bhere('?s| is| are)\b[^:\n]{0,40}\b(version|rewrite|rewritten|edit|"
    r"edited|revised|revision|article|paragraph|section|text|draft)\b[^:\n]{0,30}:\s*",
    re.IGNORECASE,
)
_INTRODUCED_REACH = 304  # `_INTRODUCED`'s "here" ends within this many characters
# A sentence about the prompt, not about the topic: "The paragraph does not contain…".
_META = re.compile(
    r"\b(your request|you are asking|you asked|as an ai|(the|this) (above|given|provided) "
    r"(paragraph|text|section)|(the|this) (paragraph|section|text|rewrite) (does|is|has|was)\b"
    r"|(the|this) ((first|second|third|next|last|final|opening|previous) )?(paragraph|section) "
    r"(then )?(delves|discusses|explores|describes|continues|"
    r"goes on)\b"
    r"|i hope (this|it) (helps|meets)|my recommendations?\b|your (paragraph|text|draft|"
    r"requirements)\b|rewritten (text|version|paragraph)s?\b|the original (article|text|"
    r"paragraph|section)\b|original (text|sentences?|paragraphs?|version|draft)[^.!?]{0,40}? "
    r"(was|were|has been|have been) (rewritten|reorganized|rephrased|restructured)\b"
    r"|in this (article|essay)\b|(the|this) (article|essay),? ((on|about) "
    r"[^.!?]{0,80}?|[\"“][^\"”]{1,80}[\"”] )?(will|explores|discusses|delves|covers|examines|"
    r"highlights|focuses|provides|describes|aims|begins|opens|starts|continues|concludes|closes|"
    r"ends with|is (a testament|(filled|replete|full|packed) with|an? (\w+ )?reminder|"
    r"dedicated to|devoted to))\b"
    r"|(the|this) (article|essay) (on|about) (how|why|what)\b|the (article|essay)'s "
    r"(section|paragraph|author|title|introduction|conclusion)\b"
    r"|\b(section|paragraph) of (an|the|this) (article|essay)\b"
    # the prompt's "Do not repeat what it already says", said back about the answer
    r"|(does not|doesn't|did not|didn't|without) repeat(ing)? (anything|what (it|was))\b)"
    r"|^\W*(rewrite|write|revise) (this|the|a|one)\b",
    re.IGNORECASE,
)
# Every way `_META` can match has one of these words in it, so a sentence with none of
# them (nearly all) skips the regex: a substring test is ~20x cheaper, and `tidy` runs on
# every answer (tests/flows/test_output_checks.py keeps the two in step).
_META_WORDS = (
    "request", "asking", "asked", " ai", "paragraph", "section", "text", "rewrite",
    "hope", "recommendation", "draft", "requirements", "rewritten", "original", "write",
    "revise", "article", "essay", "repeat",
)  # fmt: skip
# A sentence ends at . ! or ? followed by a space or the end: not inside "example.com"
# or "3.5". A run of ordinary characters is taken whole (`++`, never given back): the
# same sentences as one character at a time, in a quarter of the time.
_SENTENCE = re.compile(r"(?:[^.!?\n]++|[.!?]+(?=[^\s.!?\"')\]]))+(?:[.!?]+[\"')\]]*|$)")
_MARKER = re.compile(r"\(?\d{1,2}[.)]{1,3}")  # "2." or "2)." alone: a list's number
_LIST_ITEM = re.compile(r"\s*(?:[-*+•]|\d+[.)])\s")  # a list's line: never a wrapped sentence
_NOT_IN_KEY = re.compile(r"[^a-z0-9 ]+")
_ASCII_NOT_IN_KEY = bytes(  # what `_NOT_IN_KEY` deletes from ASCII text
    c for c in range(128) if not re.fullmatch(r"[a-z0-9 ]", chr(c))
)
_STOPWORDS = frozenset(
    "a an and are as at be by for from how in into is it its of on or the their this to "
    "what when where which who why with your you about they them these those".split()
)


def _ends_finished(line: str) -> bool:
    """Whether the line ends a sentence: . ! or ? then closing quotes or brackets (a
    regex searched for this from every position of the line)."""
    return line.rstrip().rstrip("\"')]").endswith((".", "!", "?"))


def words(text: str) -> int:
    return len(text.split())


def _key(sentence: str) -> str:
    lowered = sentence.lower()
    if lowered.isascii():  # nearly always: bytes' `translate`, a fifth of the regex's time
        return lowered.encode().translate(None, _ASCII_NOT_IN_KEY).decode().strip()
    return _NOT_IN_KEY.sub("", lowered).strip()


def _is_meta(sentence: str) -> bool:
    """A sentence about the prompt (`_META`), tested only if it may be one (`_may_be_meta`)."""
    return _may_be_meta(sentence) and bool(_META.search(sentence))


def _may_be_meta(text: str) -> bool:
    """Whether the text has one of `_META`'s words (or a character outside ASCII, which
    the regex's case folding may match differently). A whole answer without one has no
    sentence about the prompt, so `tidy` asks once, not once a sentence."""
    lowered = text.lower()
    return not text.isascii() or any(map(lowered.__contains__, _META_WORDS))


CUT_OFF_WORDS = 8
CUT_OFF_LINE_WORDS = 15  # an unfinished line this long is prose, not a line of verse
LONG_TEXT = 20_000  # characters


def unwrapped(text: str) -> str:
    """The answer without what a model put around it: an introducing first line ("Here's
    a rewritten version of your previous answer:", "Sure!"), commentary that ends in a
    colon before the work, and quotes around the whole of it."""
    text = _PREAMBLE.sub("", text.strip(), count=1).strip()
    if "here" in text[:_INTRODUCED_REACH].lower():  # `_INTRODUCED` needs it: skip the search
        text = _INTRODUCED.sub("", text, count=1).strip()
    if len(text) > 2 and text[0] == text[-1] == '"' and '"' not in text[1:-1]:
        return text[1:-1].strip()  # the whole answer quoted
    if text.startswith('"') and text.count('"') == 1:
        return text[1:].strip()  # ... and the closing quote cut off
    return text


def tidy(text: str) -> str:
    """Drop what a model put around the answer (`unwrapped`), sentences said before, and a
    last sentence the token limit cut off; keep paragraphs, line breaks and markdown
    headings."""
    text = unwrapped(text)
    said = _Said()
    paragraphs, _ = _unsaid(text, said, meta=_may_be_meta(text))
    paragraphs = [_without_stray_quote(p) for p in paragraphs]
    if paragraphs:
        last = _without_dangling_intro(paragraphs[-1])
        paragraphs[-1] = _without_cut_off_sentence(last, retold=said.started)
    return "\n\n".join(p for p in paragraphs if p).strip()


def _without_dangling_intro(paragraph: str) -> str:
    """The last paragraph without a last line that introduces what never came: it ends
    in a colon at the end of the answer (SmolLM2 ended a section with "The next paragraph
    is:")."""
    head, _, line = paragraph.rpartition("\n")
    if line.rstrip().endswith(":") and not line.lstrip().startswith("#"):
        return head.rstrip()
    return paragraph


def _without_stray_quote(paragraph: str) -> str:
    """The paragraph without a closing quote mark that closes nothing: one at its very end
    that leaves a quote mark unpaired (SmolLM2 ended an article's first paragraph with
    `technology."`, another `known as "purring." ... called home."`). A quotation that
    runs over several paragraphs opens each of them, so it keeps its marks."""
    straight, opened, closed = (paragraph.count(mark) for mark in '"“”')
    if (paragraph.endswith('"') and straight % 2 and not opened + closed) or (
        paragraph.endswith("”") and closed > opened and not straight
    ):
        return paragraph[:-1].rstrip()
    return paragraph


def distinct_parts(parts: Sequence[str], *, min_words: int) -> list[str]:
    """Parts of one piece written apart (an article's sections, in parallel), each
    without the sentences an earlier part said: a small model starts two sections with
    the same sentence. A part that would keep fewer than `min_words` stays as written."""
    said, distinct = _Said(), []
    for part in parts:
        paragraphs, dropped = _unsaid(part, said, meta=False)
        shorter = "\n\n".join(p for p in paragraphs if p).strip()
        distinct.append(shorter if dropped and words(shorter) >= min_words else part)
    return distinct


def _unsaid(text: str, said: _Said, *, meta: bool) -> tuple[list[str], int]:
    """The text's paragraphs without the sentences `said` had (and, with `meta`, those
    about the prompt), and how many were dropped; `said` has all of them afterwards."""
    paragraphs: list[str] = []
    dropped = 0
    for paragraph in re.split(r"\n\s*\n", text):
        lines: list[str] = []
        wrapped = ""  # an unfinished sentence a line break cut: it may go on below
        for line in paragraph.splitlines():
            if line.lstrip().startswith("#"):
                lines.append(line.strip())
                wrapped = ""
                continue
            item = _LIST_ITEM.match(line)
            if item:
                wrapped = ""
            kept: list[str] = []
            sentence = ""
            marker = ""  # a list's number ("2.") goes with the sentence after it
            for match in _SENTENCE.finditer(line):
                sentence = match.group().strip()
                if _MARKER.fullmatch(sentence):
                    marker = f"{marker} {sentence}".lstrip()
                    continue
                if not said.before(sentence) and not (meta and _is_meta(sentence)):
                    kept.extend([marker, sentence] if marker else [sentence])
                else:
                    dropped += 1
                marker = ""
                if wrapped and (sentence[:1].islower() or wrapped.endswith(":")):
                    said.before(f"{wrapped} {sentence}")  # it goes on: said whole too
                wrapped = ""
            if kept:
                lines.append(" ".join(kept))
            wrapped = "" if item or _ends_finished(line) else sentence
        if lines:
            paragraphs.append("\n".join(lines))
    return paragraphs, dropped


class _Said:
    """The sentences said so far; a sentence is said again when it is the same, when
    (from 6 words on) it shares 75 % of its words with one of the last `WINDOW` sentences,
    or (from 8 words on) 90 % of its words are in one of them,
    the way a small model loops with a word changed here and there - or when it repeats
    a clause said before: `CLAUSE` words in a row, `CLAUSE_WORDS` of them not stopwords,
    as SmolLM2 carries one clause through several otherwise different sentences ("... is
    a way of life that reflects the values of ..."). Prose does not repeat eight words
    in a row. A sentence that trails off ("...") is said again when one said before
    starts with it (the embedded model began a paragraph "The process of how rain
    forms..." after a sentence that did). The window keeps a long answer linear in its
    length."""

    SIMILAR = 0.75
    CONTAINED = 0.9  # ... or says little that one of them did not (a cut-off retelling)
    WINDOW = 40
    CLAUSE = 8
    CLAUSE_WORDS = 4

    def __init__(self) -> None:
        self.keys: set[str] = set()
        self.recent: deque[set[str]] = deque(maxlen=self.WINDOW)
        self.clauses: set[int] = set()  # hashes of the clauses of the sentences hashed
        self.unhashed: list[list[str]] = []  # ... and the sentences not hashed yet
        self.vocabulary: set[str] = set()  # every word said so far

    def before(self, sentence: str) -> bool:
        key = _key(sentence)
        if not key:
            return False
        sequence = key.split()
        words_ = set(sequence)
        again = (
            key in self.keys
            or (sentence.rstrip().endswith(("...", "…")) and self._starts(key))
            or self._repeats_clause(sequence)
            or self._near(words_, len(words_ & self.vocabulary))
        )
        self.keys.add(key)
        self.recent.append(words_)
        if len(sequence) >= self.CLAUSE:
            self.unhashed.append(sequence)
        self.vocabulary.update(words_)
        return again

    def started(self, sentence: str) -> bool:
        """Whether a sentence said before starts with this one (of four words or more):
        a retelling cut off, maybe mid-word."""
        return self._starts(_key(sentence))

    def _starts(self, key: str) -> bool:
        return len(key.split()) >= 4 and any(k != key and k.startswith(key) for k in self.keys)

    def _repeats_clause(self, sequence: list[str]) -> bool:
        """Whether the sentence carries a clause said before. Every word of such a clause
        was said before, so a sentence without `CLAUSE` known words in a row has none;
        only when one has are the earlier sentences' clauses hashed (prose that does
        not repeat itself seldom has such a run, and hashing was most of `tidy`'s time)."""
        run, vocabulary = 0, self.vocabulary
        for word in sequence:
            run = run + 1 if word in vocabulary else 0
            if run == self.CLAUSE:
                break
        else:
            return False
        for earlier in self.unhashed:
            self.clauses.update(self._clauses(earlier))
        self.unhashed.clear()
        return not self.clauses.isdisjoint(self._clauses(sequence))

    def _clauses(self, sequence: list[str]) -> list[int]:
        """The sentence's runs of `CLAUSE` words that start with a word that is not a
        stopword and have `CLAUSE_WORDS` such words (a clause said again longer than
        `CLAUSE` has such a run; starting nowhere else halves the work)."""
        n, last = self.CLAUSE, len(sequence) - self.CLAUSE
        if last < 0:
            return []
        words_ = tuple(sequence)
        content = [i for i, word in enumerate(words_) if word not in _STOPWORDS]
        # the run from content word j has enough of them if the (CLAUSE_WORDS-1)th after
        # it is inside the run
        later = self.CLAUSE_WORDS - 1
        return [
            hash(words_[start : start + n])
            for start, enough in zip(content, content[later:], strict=False)
            if start <= last and enough < start + n
        ]

    def _near(self, words_: set[str], known: int) -> bool:
        """One set intersection per recent sentence (|a or b| = |a| + |b| - |a and b|),
        and none when fewer of the words than either share were said at all (`known`):
        this loop was most of `tidy`'s time, and `tidy` runs on every answer."""
        n = len(words_)
        if n < 6 or known < self.SIMILAR * n:  # both ways need at least that many in common
            return False
        similar, contained = self.SIMILAR, self.CONTAINED * n if n >= 8 else float("inf")
        for other in self.recent:
            common = len(words_ & other)
            if common >= contained or common >= similar * (n + len(other) - common):
                return True
        return False


async def tidied(text: str) -> str:
    """`tidy` off the event loop for a long answer (a megabyte takes a good part of a
    second); a model's usual few kilobytes are tidied in place."""
    if len(text) > LONG_TEXT:
        return await asyncio.to_thread(tidy, text)
    return tidy(text)


def repeats(text: str) -> int:
    """How many sentences of the text were (nearly) said before in it (a sentence that
    a line break cuts counts as its two parts here; `tidy` also sees it whole)."""
    said = _Said()
    return sum(said.before(m.group()) for m in _SENTENCE.finditer(text))


def _without_cut_off_sentence(
    paragraph: str, retold: Callable[[str], bool] = lambda _sentence: False
) -> str:
    """An unfinished sentence after finished ones on the last line is where the token
    limit cut in: a short one is dropped (with the list number before it: SmolLM2 ended
    a section of 'How bees make honey' with "3. They Help Us to Improve", which left
    "3." alone), a long one only lacks its full stop. A line that is one unpunctuated
    phrase (a poem's, a list's) is left alone, unless it is a long one or only stopwords
    (SmolLM2 ended a section of 'Why cats purr' with "The"), or the start of a sentence
    said before (`retold`: SmolLM2 looped on a sentence until the limit cut its last
    retelling, "The last time we witnessed an ancient volcano", alone on its line once
    the repeats before it went)."""
    head, _, line = paragraph.rpartition("\n")
    if _ends_finished(line):
        return paragraph
    sentences = list(_SENTENCE.finditer(line))
    if not sentences:
        return paragraph
    last = sentences[-1]
    prose = not (_LIST_ITEM.match(line) or line.lstrip().startswith("#"))
    if (prose and retold(last.group())) or (
        len(sentences) > 1 and words(last.group()) < CUT_OFF_WORDS
    ):
        cut = last.start()
        if len(sentences) > 1 and _MARKER.fullmatch(sentences[-2].group().strip()):
            cut = sentences[-2].start()  # the item's number goes too
        line = line[:cut].rstrip()
        if not line:
            return head.rstrip()
    elif len(sentences) == 1:  # a whole line: a poem's, or prose the limit cut in two
        cut = words(line) >= CUT_OFF_LINE_WORDS or _STOPWORDS.issuperset(line.lower().split())
        return head.rstrip() if head and cut else paragraph  # ... or a lone "The"
    else:
        line = line.rstrip(" ,;:-") + ("" if line.rstrip().endswith('"') else ".")
    return f"{head}\n{line}" if head else line


def not_the_work(text: str) -> str | None:
    """A refusal or a question back instead of the answer asked for."""
    stripped = text.strip()
    if not stripped:
        return "the answer was empty"
    if _NOT_THE_WORK.match(stripped):
        return f"the answer was not the work asked for ({_excerpt(stripped)}); do the task itself"
    if stripped.endswith("?") and words(stripped) < 40:
        return f"the answer was a question ({_excerpt(stripped)}); answer, do not ask"
    return None


def prose_problem(text: str, *, min_words: int) -> str | None:
    """Text that cannot stand as a paragraph of an article."""
    problem = not_the_work(text)
    if problem:
        return problem
    if words(text) < min_words:
        return f"the text has {words(text)} words; write at least {min_words}"
    return None


def rewrite_problem(original: str, rewrite: str, *, keep: float = 0.6) -> str | None:
    """A rewrite must be the same text in another voice, not a summary of it."""
    problem = not_the_work(rewrite)
    if problem:
        return problem
    if words(rewrite) < words(original) * keep:
        return (
            f"the rewrite has {words(rewrite)} words but the original has {words(original)}: "
            "rewrite all of it, keep every fact"
        )
    return None


# Forms whose first letters are not their verb's: "Where It Begins" and the fallback's
# "Where it began" are one part of a topic (SmolLM2's outline of 'Why cats purr').
_IRREGULAR = {
    "began": "begin",
    "begun": "begin",
    "made": "make",
    "making": "make",
    "grew": "grow",
    "grown": "grow",
}


def topic_words(topic: str) -> set[str]:
    """The words that carry meaning, each by its first five letters (a crude stem)."""
    return {
        _IRREGULAR.get(w, w)[:5]
        for w in re.findall(r"[a-z0-9]+", topic.lower())
        if w not in _STOPWORDS
    }


_OPENS_SENTENCE = re.compile(r"(^|[.!?][\"')\]]*[ \t]*)$", re.MULTILINE)  # before a sentence


def without_instruction(text: str, instruction: str) -> str:
    """The text without the words of an instruction its prompt gave, said back (SmolLM2,
    asked to rewrite a section "in a warm, conversational style", wrote "Why cats purr in
    a warm, conversational style:" above it and "Cats purring in a warm, conversational
    style is..."): a line ending in a colon that says them goes whole; in a sentence the
    words go, and a sentence they opened starts with its next word."""
    if text.isascii() and instruction.isascii() and instruction.lower() not in text.lower():
        return text  # nothing to find (the search below tries every position: 50x the time)
    said = re.compile(
        rf"(?P<lead>[ \t]*)\b{re.escape(instruction)}\b,?[ \t]*(?P<next>\w?)",
        re.IGNORECASE,
    )
    if not said.search(text):
        return text
    lines = [
        line
        for line in text.splitlines()
        if not (line.rstrip().endswith(":") and said.search(line))
    ]

    def cut(match: re.Match[str]) -> str:
        if _OPENS_SENTENCE.search(match.string, 0, match.start()):
            return match["lead"] + match["next"].upper()
        return f" {match['next']}" if match["next"] else ""

    return said.sub(cut, "\n".join(lines)).strip()


def without_title_said(text: str, title: str, topic: str) -> str:
    """The text without a first line, or the start of one before a colon, that only says
    its section's title (and the topic) again: the article has the heading already.
    SmolLM2 opened the section 'The Basics' of 'Why cats purr' with "The Basics of the
    Why Cats Purr:", another with "The history of the bicycle.", another with "The
    Process of Making Honey: A tale that..."."""
    first, _, rest = text.strip().partition("\n")
    label, colon, after = first.partition(":")
    if not colon:
        label, after = first, ""
    after = after.strip()
    if not (after or rest.strip()) or words(label) > MAX_HEADING_WORDS:
        return text
    said = topic_words(label)
    if not said or _found(said, topic_words(f"{title} {topic}")) != said:
        return text
    return "\n".join(part for part in (after[:1].upper() + after[1:], rest.strip()) if part)


def adds_little(text: str, more: str) -> bool:
    """Whether `more`, asked for as what comes after `text`, mostly says it again: two
    thirds or more of its words that carry meaning are in `text` (SmolLM2, asked for the
    next paragraph of a section of 'Why the sky is blue', answered "The sky, a fundamental
    concept that underlies this planet's beauty and importance.")."""
    said = topic_words(more)
    return bool(said) and 3 * len(_found(said, topic_words(text))) >= 2 * len(said)


def names_topic(topic: str, title: str) -> bool:
    """A title that says what the article is about: it has the topic's words, all but
    fewer than a third of them ("Why Bread Raids" does not name "why bread rises", nor
    SmolLM2's "The Science Behind Green Tea" "how to brew green tea")."""
    wanted = topic_words(topic)
    missing = wanted - _found(wanted, topic_words(title))
    return not missing or 3 * len(missing) < len(wanted)


def _found(words_: set[str], among: set[str]) -> set[str]:
    """The `topic_words` of `words_` that `among` has too, as one word by `_same_word`."""
    return {w for w in words_ if any(_same_word(w, other) for other in among)}


def _same_word(first: str, second: str) -> bool:
    """`topic_words` keep five letters: "brew" and "brewi(ng)" are one word too (from
    three letters: "ai" is not "air")."""
    shorter, longer = sorted((first, second), key=len)
    return shorter == longer or (len(shorter) >= 3 and longer.startswith(shorter))


MAX_HEADING_WORDS = 10
_FILE_NAME = re.compile(r"\w\.(md|txt|json|html?|py|csv|pdf|docx?)$", re.IGNORECASE)


def heading_problem(heading: str) -> str | None:
    """A section title a reader can take in at a glance."""
    if (
        not re.search(r"[A-Za-z]{3}", heading)
        or re.search(r"[{}<>\[\]#|\\_]", heading)
        or _FILE_NAME.search(heading)  # SmolLM2's "cat_purring.md"
    ):
        return f"a section needs a title in words, not {_excerpt(heading) if heading else 'none'}"
    if words(heading) > MAX_HEADING_WORDS:
        return (
            f"section titles are short headings (at most {MAX_HEADING_WORDS} words), "
            f"not {_excerpt(heading)}"
        )
    return None


def too_alike(topic: str, first: str, second: str) -> bool:
    """Whether two section titles name the same part of the topic: the words of one
    beyond the topic's own (`topic_words`) are all in the other. The embedded small
    model gives "The Process of Making Cheese" and "Overview of the Process of Cheese
    Making" for *how cheese is made*, and the article says one thing twice. A title
    with nothing beyond the topic's words ("Cheese") names the whole topic: like no
    other title, but like a second one that also names only the topic (it gave "How
    Tides Work" and "Tide: How They Work" for *how tides work*)."""
    own = topic_words(topic)
    beyond = [words_ - _found(words_, own) for words_ in map(topic_words, (first, second))]
    smaller, larger = sorted(beyond, key=len)
    if not smaller:
        return not larger
    return _found(smaller, larger) == smaller


def outline_problem(topic: str, title: str, sections: Sequence[dict[str, Any]]) -> str | None:
    """Three sections that say different things about the topic."""
    for section in sections:
        problem = heading_problem(section["title"])
        if problem:
            return problem
    keys = [_key(s["title"]) for s in sections]
    if len(set(keys)) < len(keys):
        titles = ", ".join(repr(s["title"]) for s in sections)
        return f"the sections must have different titles and cover different parts, not {titles}"
    for i, first in enumerate(sections):
        for second in sections[i + 1 :]:
            if too_alike(topic, first["title"], second["title"]):
                return (
                    f"the sections {first['title']!r} and {second['title']!r} cover the same "
                    "part: give each a different part of the topic"
                )
    wanted = topic_words(topic)
    text = " ".join([title, *(s["title"] for s in sections)])
    if wanted and not wanted & topic_words(text):
        return f"the outline is not about {topic!r}: mention it in the title"
    return None


def is_prose(text: str) -> bool:
    """A key point a person can read: mostly words, not URLs, ids or markup."""
    tokens = text.split()
    if len(tokens) < 3 or re.search(r"https?:|www\.|\.com|[<>{}\[\]#|\\]", text):
        return False
    wordlike = sum(1 for t in tokens if re.fullmatch(r"[A-Za-z][A-Za-z'-]*[,.;:!?]?", t))
    return wordlike >= 0.7 * len(tokens) and all(len(t) <= 20 for t in tokens)


def _excerpt(text: str, limit: int = 60) -> str:
    one_line = " ".join(text.split())
    return repr(one_line if len(one_line) <= limit else one_line[: limit - 1] + "…")
