"""The seed flows check what the model wrote, the way a careful editor would.

Each rejection is retried at once with the problem told to the model (a `node.retry`
event says why), then falls back visibly (a progress line) or fails the job with a
message a person can act on. Small models are the reason: SmolLM2 answered the style
prompt with "I'm ready to help! What's the topic?" and gave three sections one title.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from flows import article, checks
from flows.providers.scripted_llm import Reply, ScriptedLLM
from tests.harness import OUTLINE, SECTION_TEXT, STYLED_TEXT, running_app

REFUSAL = "I'm ready to help! What's the topic you'd like to discuss?"
SAME_TITLES = {
    "title": "Coffee",
    "sections": [{"title": "History of Coffee", "points": ["origins"]}] * 3,
}


async def run_article(
    tmp_path: Path, replies: list[Reply], topic: str = "coffee"
) -> tuple[dict, list[dict], ScriptedLLM]:
    llm = ScriptedLLM(replies)
    async with running_app(tmp_path, llm) as h:
        job = await h.create("article", {"topic": topic})
        done = await h.wait_for(job["id"])
        events = await h.events(job["id"])
    return done, events, llm


def retries(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["data"]["node"], e["data"]["error"]) for e in events if e["type"] == "node.retry"]


def progress(events: list[dict[str, Any]], text: str) -> list[str]:
    return [
        e["data"]["message"]
        for e in events
        if e["type"] == "node.progress" and text in e["data"]["message"]
    ]


async def test_a_refused_rewrite_is_retried_then_each_section_keeps_its_draft(
    tmp_path: Path,
) -> None:
    done, events, llm = await run_article(
        tmp_path,
        [
            Reply(OUTLINE, match="Write an outline"),
            Reply(SECTION_TEXT, match="Write one paragraph"),
            Reply(REFUSAL, match="Rewrite this article draft"),
        ],
    )
    assert done["status"] == "completed", done["error"]
    markdown = done["result"]["markdown"]
    assert REFUSAL not in markdown
    assert markdown.count("goatherd named Kaldi") == 3
    assert [s for s in ("## Origins", "## Coffeehouses", "## Today") if s in markdown] == [
        "## Origins",
        "## Coffeehouses",
        "## Today",
    ]
    refused = retries(events)
    assert [node for node, _ in refused] == ["ApplyStyle"] * 3  # one retry per section
    assert all("not the work asked for" in error for _, error in refused)
    rewrites = [p for p in llm.prompts() if p.startswith("Rewrite this article draft")]
    assert sum("Your last answer was refused" in p for p in rewrites) == 3
    assert len(progress(events, "as drafted")) == 3


async def test_a_rewrite_that_drops_most_of_a_section_is_refused(tmp_path: Path) -> None:
    done, events, _ = await run_article(
        tmp_path,
        [
            Reply(OUTLINE, match="Write an outline"),
            Reply(SECTION_TEXT, match="Write one paragraph"),
            Reply("Coffee came from Ethiopia. Then Yemen.", match="Rewrite", times=1),
            Reply(STYLED_TEXT, match="Rewrite this article draft"),
        ],
    )
    assert done["status"] == "completed", done["error"]
    [(node, error)] = retries(events)
    assert node == "ApplyStyle" and "rewrite all of it" in error
    assert done["result"]["markdown"].count("very first coffee farms") == 3
    assert "Then Yemen" not in done["result"]["markdown"]


async def test_an_outline_with_one_title_three_times_is_asked_again(tmp_path: Path) -> None:
    done, events, llm = await run_article(
        tmp_path,
        [
            Reply(SAME_TITLES, match="Write an outline", times=1),
            Reply(OUTLINE, match="Write an outline"),
            Reply(SECTION_TEXT, match="Write one paragraph"),
            Reply(STYLED_TEXT, match="Rewrite this article draft"),
        ],
    )
    assert done["status"] == "completed", done["error"]
    [(node, error)] = retries(events)
    assert node == "GenerateOutline" and "different titles" in error
    outlines = [p for p in llm.prompts() if p.startswith("Write an outline")]
    assert "'History of Coffee'" in outlines[1]
    assert "## Origins" in done["result"]["markdown"]


async def article_headings(tmp_path: Path, titles: list[str]) -> list[str]:
    """The section headings of an article written from an outline with these titles."""
    outline = {
        "title": "Coffee, a history",
        "sections": [{"title": title, "points": ["Ethiopia"]} for title in titles],
    }
    done, _, _ = await run_article(
        tmp_path,
        [
            Reply(outline, match="Write an outline"),
            Reply(SECTION_TEXT, match="Write one paragraph"),
            Reply(STYLED_TEXT, match="Rewrite this article draft"),
        ],
    )
    markdown = done["result"]["markdown"]
    return [line[3:] for line in markdown.splitlines() if line.startswith("## ")]


async def test_section_titles_lose_the_numbers_a_model_puts_before_them(
    tmp_path: Path,
) -> None:
    """SmolLM2 titled a section "Section 2: How Bread Leaks", another "How Bicycles Work:
    The Basics (3)"; the article numbers nothing (and a heading starts with a capital:
    the embedded model's "how tides work")."""
    titles = ["Section 1: Origins", "part 2) Coffeehouses (2)", "3. today"]
    assert await article_headings(tmp_path, titles) == ["Origins", "Coffeehouses", "Today"]
    titles = ["Origins", "Coffeehouses", "iPhone cafes"]
    assert await article_headings(tmp_path / "2", titles) == titles


async def test_section_titles_say_what_the_small_model_meant(tmp_path: Path) -> None:
    """SmolLM2, shown "how it works" as an example part, titled a section of 'How
    volcanoes form' "The How It Works", and wrote "Where It Begun" for "Where it began"
    in a third of its outlines (read in the articles ./scripts/up wrote)."""
    titles = ["Where It Begun", "The How It Works", "A Why It Matters Today"]
    assert await article_headings(tmp_path, titles) == [
        "Where It Began",
        "How It Works",
        "Why It Matters Today",
    ]
    # 'Why leaves change color': one subtitle after every title says nothing of each
    titles = [f"{part}: The Leaf's Transformation" for part in ("Origins", "Cafes", "Today")]
    assert await article_headings(tmp_path / "2", titles) == ["Origins", "Cafes", "Today"]
    meta = "The How It Works section of an article about volcanoes is filled with facts."
    assert checks.tidy(meta) == ""  # ... and said so in its text


async def test_an_outline_that_keeps_repeating_gets_distinct_sections(tmp_path: Path) -> None:
    done, events, _ = await run_article(
        tmp_path,
        [
            Reply(SAME_TITLES, match="Write an outline"),
            Reply(SECTION_TEXT, match="Write one paragraph"),
            Reply(STYLED_TEXT, match="Rewrite this article draft"),
        ],
    )
    assert done["status"] == "completed", done["error"]
    assert [node for node, _ in retries(events)] == ["GenerateOutline"]
    headings = [line for line in done["result"]["markdown"].splitlines() if line.startswith("## ")]
    assert len(set(headings)) == 3 and headings[0] == "## History of Coffee"
    assert progress(events, "Fixed the outline")


async def test_a_section_the_model_refuses_to_write_fails_the_job_saying_so(
    tmp_path: Path,
) -> None:
    done, events, _ = await run_article(
        tmp_path,
        [
            Reply(OUTLINE, match="Write an outline"),
            Reply(REFUSAL, match="section 'Today'"),
            Reply(SECTION_TEXT, match="Write one paragraph"),
        ],
    )
    assert done["status"] == "failed"
    assert done["error"]["type"] == "OutputRejected"
    assert "not the work asked for" in done["error"]["message"]
    assert [node for node, _ in retries(events)] == ["WriteContent"] * (article.SECTION_TRIES - 1)


async def test_a_short_section_is_asked_again_then_kept_and_said_to_be_short(
    tmp_path: Path,
) -> None:
    done, events, _ = await run_article(
        tmp_path,
        [
            Reply(OUTLINE, match="Write an outline"),
            Reply("Espresso, everywhere.", match="section 'Today'"),
            Reply(SECTION_TEXT, match="Write one paragraph"),
            Reply(STYLED_TEXT, match="Rewrite this article draft"),
        ],
    )
    assert done["status"] == "completed", done["error"]
    asked_again = retries(events)
    assert len(asked_again) == article.SECTION_TRIES - 1
    for node, error in asked_again:
        assert node == "WriteContent" and f"write at least {article.MIN_SECTION_WORDS}" in error
    assert progress(events, "Kept a short section 3 of 3")


async def test_a_last_empty_try_does_not_lose_a_short_section_written_before(
    tmp_path: Path,
) -> None:
    """SmolLM2 on 'How honey is made': 25 words, then 33, then nothing - the job failed."""
    shorter = "Bees make honey from nectar they gather in spring and summer."
    longer = f"{shorter} They store it in wax cells and fan it with their wings until thick."
    done, events, llm = await run_article(
        tmp_path,
        [
            Reply(OUTLINE, match="Write an outline"),
            Reply("", match="Write the next paragraph"),  # asked to go on: nothing more
            Reply(shorter, match="for the section 'Today'", times=1),
            Reply(longer, match="for the section 'Today'", times=1),
            Reply("", match="for the section 'Today'", times=1),
            Reply(SECTION_TEXT, match="Write one paragraph"),
            Reply(STYLED_TEXT, match="Rewrite this article draft"),
        ],
    )
    assert done["status"] == "completed", done["error"]
    assert progress(events, "Kept a short section 3 of 3: the text has 25 words")
    drafts = [p for p in llm.prompts() if p.startswith("Rewrite")]  # the draft's sections
    assert any(p.endswith(f"\n\n{longer}") for p in drafts)


async def test_a_next_paragraph_that_says_the_first_again_is_not_added(
    tmp_path: Path,
) -> None:
    """SmolLM2-135M, asked for the next paragraph of a short section of 'Why the sky is
    blue', answered with the first one's opening again, cut short; the section ended on
    it in the article ./scripts/up wrote."""
    first = (
        "The sky is blue, a fundamental concept that underlies the entire planet. "
        "Sunlight scatters off the molecules of the air, and blue light, with its short "
        "waves, scatters the most. That is why the sky looks blue at noon, and why the "
        "horizon looks paler."
    )
    echo = "The sky, a fundamental concept that underlies this planet's beauty."
    more = "At sunset the light crosses more air, so the reds and oranges reach us instead."
    done, _, llm = await run_article(
        tmp_path,
        [
            Reply(OUTLINE, match="Write an outline"),
            Reply(echo, match="start of the section 'Today'", times=1),
            Reply(more, match="start of the section 'Today'"),
            Reply("", match="Write the next paragraph"),  # the other sections: nothing more
            Reply(first, match="for the section 'Today'"),
            Reply(SECTION_TEXT, match="Write one paragraph"),
            Reply(STYLED_TEXT, match="Rewrite this article draft"),
        ],
    )
    assert done["status"] == "completed", done["error"]
    drafts = [p for p in llm.prompts() if p.startswith("Rewrite")]
    [today] = [p for p in drafts if first in p]
    assert "underlies this planet's beauty" not in today
    assert more not in today  # asking stops: a model that echoes will echo again


def test_what_says_the_text_again_adds_little() -> None:
    walking = (
        "Walking is a vital skill for everyone today, and it's no different in the world "
        "of fitness. It not only helps people stay fit but also boosts their mental health."
    )
    # SmolLM2-135M's next paragraph of 'Why It Matters Today' in 'The benefits of walking'
    echo = "Walking, a vital skill for everyone today. It's no different in this modern era."
    assert checks.adds_little(walking, echo)
    assert not checks.adds_little(walking, "Walking also lowers blood pressure in older adults.")
    assert not checks.adds_little(walking, "")


async def test_a_task_answered_with_a_question_is_retried_before_a_person_sees_it(
    tmp_path: Path,
) -> None:
    llm = ScriptedLLM(
        [
            Reply("Could you please tell me what kind of haiku you want?", times=1),
            Reply("Steam curls from the cup\nthe kettle hums its last note\nautumn tea is poured"),
        ]
    )
    async with running_app(tmp_path, llm) as h:
        job = await h.create("review", {"task": "Write a haiku about tea"})
        waiting = await h.wait_for(job["id"], "waiting_for_review")
        events = await h.events(job["id"])
    assert "kettle hums" in waiting["review"]["payload"]["output"]
    [(node, error)] = retries(events)
    assert node == "Process" and "not the work asked for" in error


def test_tidy_drops_the_preamble_repeats_and_a_cut_off_sentence() -> None:
    text = (
        "Here is the rewritten version of the article:\n\n"
        "Coffee is old. The future of coffee is bright. The future of coffee is bright.\n\n"
        "The future of coffee is bright. Tea is older. And then the"
    )
    assert checks.tidy(text) == "Coffee is old. The future of coffee is bright.\n\nTea is older."


def test_tidy_drops_a_closing_quote_that_closes_nothing() -> None:
    """SmolLM2-135M's section of 'How lighthouses work' (read in the article the embedded
    model wrote): its first paragraph ended in a quote mark nothing opened."""
    text = (
        'The first lighthouse guided ships at night. It changed maritime safety."\n\n'
        "Lighthouses still guide ships today."
    )
    assert checks.tidy(text) == (
        "The first lighthouse guided ships at night. It changed maritime safety.\n\n"
        "Lighthouses still guide ships today."
    )
    # 'Why cats purr': a quoted word before it
    assert checks.tidy('It is known as "purring." It calms us at home."') == (
        'It is known as "purring." It calms us at home.'
    )
    quoted = (
        'The keeper wrote "all is well." every night.\n\n'
        "“A quotation that runs on.\n\n“Opens each paragraph and closes at the end.”"
    )
    assert checks.tidy(quoted) == quoted


def test_tidy_keeps_line_breaks_and_headings() -> None:
    poem = "## Tea\n\nSteam curls from the cup\nthe kettle hums its last note"
    assert checks.tidy(poem) == poem


def test_an_outline_must_be_about_the_topic_with_short_distinct_headings() -> None:
    sections = [{"title": t, "points": []} for t in ("Origins", "Coffeehouses", "Today")]
    assert checks.outline_problem("coffee", "Coffee, a history", sections) is None
    assert "not about 'tea'" in (checks.outline_problem("tea", "Coffee, a history", sections) or "")
    long = [*sections[:2], {"title": "1908-23, the world's oldest coffee shop in the world is a"}]
    assert "short headings" in (checks.outline_problem("coffee", "Coffee", long) or "")


def outline_of(*titles: str) -> list[dict[str, Any]]:
    return [{"title": title, "points": []} for title in titles]


# The embedded small model's outline for "How cheese is made": two sections, one part.
CHEESE = "How cheese is made"
ALIKE = ("The Process of Making Cheese", "Overview of the Process of Cheese Making")


def test_sections_whose_titles_name_the_same_part_are_refused() -> None:
    """Beyond the topic's own words, one title says nothing the other does not: the
    article would say one thing twice. Titles that differ beyond the topic pass, and
    so does a title that is only the topic's words ("Cheese")."""
    refused = checks.outline_problem(CHEESE, CHEESE, outline_of(*ALIKE, "Where it began"))
    assert refused == (
        "the sections 'The Process of Making Cheese' and 'Overview of the Process of Cheese "
        "Making' cover the same part: give each a different part of the topic"
    )
    assert "cover the same part" in (
        checks.outline_problem(CHEESE, CHEESE, outline_of("Origins", *reversed(ALIKE))) or ""
    )
    distinct = outline_of("Origins", "How it is made", "Why it matters")
    assert checks.outline_problem(CHEESE, CHEESE, distinct) is None
    only_the_topic = outline_of("Cheese", "Cheese around the world", "Why it matters")
    assert checks.outline_problem(CHEESE, CHEESE, only_the_topic) is None


def test_two_sections_that_both_name_only_the_topic_are_refused() -> None:
    """The embedded model's outline for "How tides work": two of its three titles say
    the topic again and nothing else, so the article would have it twice."""
    tides = outline_of("How Tides Work", "Tide: How They Work", "The Moon's Pull")
    assert checks.outline_problem("How tides work", "Tides", tides) == (
        "the sections 'How Tides Work' and 'Tide: How They Work' cover the same part: "
        "give each a different part of the topic"
    )
    one_names_the_topic = outline_of("How Tides Work", "The Moon's Pull", "Spring and neap")
    assert checks.outline_problem("How tides work", "Tides", one_names_the_topic) is None


async def test_an_outline_with_two_sections_on_one_part_is_asked_again(
    tmp_path: Path,
) -> None:
    cheese = {"title": CHEESE, "sections": outline_of(*ALIKE, "Where it began")}
    distinct = {"title": CHEESE, "sections": outline_of("Origins", "How it is made", "Today")}
    done, events, llm = await run_article(
        tmp_path,
        [
            Reply(cheese, match="Write an outline", times=1),
            Reply(distinct, match="Write an outline"),
            Reply(SECTION_TEXT, match="Write one paragraph"),
            Reply(STYLED_TEXT, match="Rewrite this article draft"),
        ],
        topic=CHEESE,
    )
    assert done["status"] == "completed", done["error"]
    [(node, error)] = retries(events)
    assert node == "GenerateOutline" and "cover the same part" in error
    outlines = [p for p in llm.prompts() if p.startswith("Write an outline")]
    assert "'Overview of the Process of Cheese Making' cover the same part" in outlines[1]
    assert "## How it is made" in done["result"]["markdown"]


def test_key_points_that_are_not_prose_are_not_passed_on() -> None:
    assert checks.is_prose("Coffee reached Yemen in the 15th century.")
    assert not checks.is_prose("https.comstatic3650921487-fafcjdzvhkqbwgxnrblmakrdf")
    assert not checks.is_prose("<span id=4>History<br><a href=")


async def test_a_section_that_stops_early_is_continued_once(tmp_path: Path) -> None:
    start = "Coffee began in Ethiopia. Monks brewed it to stay awake through the night."
    done, events, llm = await run_article(
        tmp_path,
        [
            Reply(OUTLINE, match="Write an outline"),
            Reply(start, match="Write one paragraph"),
            Reply(SECTION_TEXT, match="Here is the start of"),
            Reply(STYLED_TEXT, match="Rewrite this article draft"),
        ],
    )
    assert done["status"] == "completed", done["error"]
    assert not retries(events)
    continued = [p for p in llm.prompts() if p.startswith("Here is the start of")]
    assert len(continued) == 3 and all(start in p for p in continued)


def test_tidy_drops_commentary_and_sentences_repeated_with_a_word_changed() -> None:
    text = (
        "The article is clear, but it could be more engaging. Here's an edited version:\n"
        "Sleep is essential not only physically but also mentally for everyone.\n"
        "Sleep is essential not only physically but also mentally for anyone.\n"
        "It also helps memory."
    )
    assert checks.tidy(text) == (
        "Sleep is essential not only physically but also mentally for everyone.\n"
        "It also helps memory."
    )
    assert checks.repeats(text) == 1


def test_tidy_drops_a_retelling_the_token_limit_cut_off() -> None:
    text = (
        "Coffee is old. It remains the most cherished drink on this planet and millions "
        "drink it every day without end.\n"
        "It remains, however, the most cherished drink on this planet and millions drink it"
    )
    assert checks.tidy(text) == (
        "Coffee is old. It remains the most cherished drink on this planet and millions "
        "drink it every day without end."
    )


def test_tidy_drops_the_cut_off_start_of_a_sentence_said_before() -> None:
    """The embedded model looped on one sentence until the token limit cut its last
    retelling; with the repeats before it gone, the fragment stood alone on its line
    (8 words: as long as an unfinished sentence that is kept)."""
    said = (
        "The last time we witnessed an ancient volcano's fury was not just in awe but also "
        "as they watched their final moments unfold."
    )
    text = (
        f"The eruption process has been studied for centuries. {said}\n"
        "Volcanoes have captivated humanity forever.\n"
        f"The eruption process has been studied for centuries. {said}\n"
        "The eruption process has been studied for centuries. The last time we witnessed "
        "an ancient volcano"
    )
    assert checks.tidy(text) == (
        f"The eruption process has been studied for centuries. {said}\n"
        "Volcanoes have captivated humanity forever."
    )
    unsaid = "Volcanoes have captivated humanity forever.\nThe last time we saw it erupt"
    assert checks.tidy(unsaid) == unsaid  # a line of its own, said nowhere before: kept
    listed = "The sun adds its pull to the moon's pull twice a month.\n- The sun adds its pull"
    assert checks.tidy(listed) == listed  # a list item or a heading is no retelling


def test_tidy_drops_a_sentence_that_trails_off_into_the_start_of_one_said_before() -> None:
    """The embedded model's section 'How Rainbows Work' of 'How rainbows form'."""
    said = "The process of how rain forms is a mesmerizing dance between light and water..."
    text = f"{said}\n\nThe process of how rain forms... The magic happens in the droplets."
    assert checks.tidy(text) == f"{said}\n\nThe magic happens in the droplets."
    first = "The sky was grey... It rained all day. The sky was grey and cold."
    assert checks.tidy(first) == first  # the first one to trail off stays


def test_tidy_drops_talk_about_the_prompt_and_headings_must_be_words() -> None:
    """What SmolLM2 wrote behind llama-cpp-python's server, inside a section."""
    text = (
        "Coffee came from Ethiopia.\n"
        "Rewrite this article draft section about the history of coffee.\n"
        "These are just my recommendations for the rewritten text. I hope it meets your "
        "requirements.\n"
        "It spread to Yemen."
    )
    assert checks.tidy(text) == "Coffee came from Ethiopia.\nIt spread to Yemen."
    assert checks.heading_problem("{{title}}")
    assert checks.not_the_work("Rewrite this article draft section about coffee.")


async def test_a_structured_answer_with_a_raw_newline_in_a_string_is_accepted() -> None:
    """SmolLM2's research notes had a raw line break inside a string: valid for the
    grammar, refused by a strict JSON parser ("Invalid control character")."""
    from flows import context, llm

    schema = {"type": "object", "properties": {"note": {"type": "string"}}, "required": ["note"]}
    model = ScriptedLLM([Reply('{"note": "Coffee came\nfrom Ethiopia."}')])
    with llm.backend.use(model), context.bind(context.DetachedContext()):
        answer = await llm.complete("Notes, in JSON", schema=schema)
    assert answer == {"note": "Coffee came\nfrom Ethiopia."}
    assert len(model.calls) == 1


# Every word of `_META`'s pattern, and some that are in no alternative.
_META_VOCABULARY = [
    *sorted(set(re.findall(r"[a-z]+", checks._META.pattern)) - {"b", "w", "s"}),
    *("tea", "history", "writer", "texts", "hopeful", "originally"),
]


@settings(max_examples=3000, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(_META_VOCABULARY),
            st.sampled_from(["", ".", ",", "-", "'s", "?"]),
            st.booleans(),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_the_cheap_test_for_a_sentence_about_the_prompt_agrees_with_the_full_one(
    words_: list[tuple[str, str, bool]],
) -> None:
    """`_is_meta` skips the regex for sentences without one of its words: it must never
    skip one the regex would catch."""
    sentence = " ".join((w.title() if upper else w) + mark for w, mark, upper in words_)
    assert checks._is_meta(sentence) == bool(checks._META.search(sentence)), sentence


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab .!?\"')]\t\u00a0\u2003")), max_size=12))
def test_the_end_of_a_sentence_is_what_the_pattern_says_it_is(line: str) -> None:
    """`_ends_finished` looks at the end only; it agrees with the regex it replaced."""
    pattern = re.compile(r"[.!?][\"')\]]*\s*$")
    assert checks._ends_finished(line) == bool(pattern.search(line)), repr(line)


_CLAUSE_WORDS = "the ritual shows respect for guests and nature tea is grown by families".split()


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.lists(st.sampled_from(_CLAUSE_WORDS), min_size=4, max_size=16).map(" ".join),
        min_size=2,
        max_size=8,
    )
)
def test_a_repeated_clause_is_found_however_late_the_clauses_are_hashed(
    sentences: list[str],
) -> None:
    """Clauses are hashed only once a sentence has `CLAUSE` known words in a row: the
    answer must be the one that hashing every sentence as it comes gives."""
    sentences = [*sentences, f"{sentences[-1]} while {sentences[0]}"]  # carries two
    hasher, seen, expected = checks._Said(), set[int](), []
    for text in sentences:
        clauses = set(hasher._clauses(checks._key(text).split()))
        expected.append(not seen.isdisjoint(clauses))
        seen |= clauses
    said, found = checks._Said(), []
    for text in sentences:
        found.append(said._repeats_clause(checks._key(text).split()))
        said.before(text)
    assert found == expected  # (about two cases in three have a repeated clause)


def test_parts_written_apart_lose_what_an_earlier_part_said() -> None:
    first = "Tea grows best on the misty hills of Assam. Pickers take two leaves and a bud."
    second = (
        "Tea grows best on misty hills of Assam. Withering softens the leaves on racks for hours. "
        "Rolling breaks their cells, and the air darkens them before they are dried."
    )
    short = "Pickers take two leaves and a bud. Then they rest."
    assert checks.distinct_parts([first, second, short], min_words=8) == [
        first,
        "Withering softens the leaves on racks for hours. "
        "Rolling breaks their cells, and the air darkens them before they are dried.",
        short,  # too little would be left: a part is never emptied
    ]
    unchanged = ["One part.\n\nTwo  spaces  stay.", "Another part entirely."]
    assert checks.distinct_parts(unchanged, min_words=1) == unchanged


def test_tidy_drops_sentences_that_carry_a_clause_said_before() -> None:
    """SmolLM2-135M writing about tea: one clause through three different sentences."""
    text = (
        "The tea ceremony is a quiet ritual that shows respect for guests and for nature. "
        "Many families keep the ritual that shows respect for guests and for nature alive. "
        "Schools teach children the ritual that shows respect for guests and for nature too. "
        "Matcha is whisked with a bamboo brush."
    )
    assert checks.tidy(text) == (
        "The tea ceremony is a quiet ritual that shows respect for guests and for nature. "
        "Matcha is whisked with a bamboo brush."
    )
    assert checks.repeats(text) == 2


def test_a_common_phrase_said_twice_is_not_a_repeated_clause() -> None:
    text = (
        "At the end of the day the merchants counted their silver coins. "
        "At the end of the day the farmers walked home across the wet fields. "
        "In the middle of the night a storm broke over the harbour."
    )
    assert checks.tidy(text) == text
    assert checks.repeats(text) == 0


def test_a_title_names_the_topic_with_most_of_its_words() -> None:
    assert checks.names_topic("Why bread rises", "Why Bread Rises: Yeast at Work")
    assert checks.names_topic("coffee", "Coffee, a history")
    assert checks.names_topic("the history of coffee in Yemen", "Coffee's Yemeni history")
    assert not checks.names_topic("Why bread rises", "Why Bread Raids")  # SmolLM2's
    assert not checks.names_topic("coffee", "A short history")
    assert not checks.names_topic("How to brew green tea", "The Science Behind Green Tea")
    assert checks.names_topic("How to brew green tea", "Brewing Green Tea at Home")
    assert checks.names_topic("AI in music", "Music Made with AI")  # a word of two letters
    assert not checks.names_topic("AI in music", "Music on the Air")


async def test_a_title_that_misses_the_topic_gives_way_to_the_topic(tmp_path: Path) -> None:
    outline = {**OUTLINE, "title": "Why Bread Raids"}
    done, _, _ = await run_article(
        tmp_path,
        [
            Reply(outline, match="Write an outline"),
            Reply(SECTION_TEXT, match="Write one paragraph"),
            Reply(STYLED_TEXT, match="Rewrite this article draft"),
        ],
        topic="why bread rises",
    )
    assert done["status"] == "completed", done["error"]
    assert done["result"]["title"] == "Why bread rises"
    assert done["result"]["markdown"].startswith("# Why bread rises\n")
    assert "Raids" not in done["result"]["markdown"]


def test_a_sentence_a_line_break_cut_is_a_repeat_when_said_again_whole() -> None:
    """SmolLM2 on how tea is grown: a sentence wrapped over two lines, each part too short
    to carry a clause of its own, then the same sentence on one line behind a label."""
    text = (
        "Tea bushes grow best on steep hillsides\n"
        "where rain drains away quickly.\n"
        "Pickers take only the top two leaves and a bud.\n"
        "The Basics of Tea Growing: Tea bushes grow best on steep hillsides where rain "
        "drains away quickly."
    )
    assert checks.tidy(text) == (
        "Tea bushes grow best on steep hillsides\n"
        "where rain drains away quickly.\n"
        "Pickers take only the top two leaves and a bud."
    )


def test_a_labelled_line_said_again_with_its_label_is_a_repeat() -> None:
    """SmolLM2-135M on how tea is grown (GenFlow's embedded model, unedited): a label on
    a line of its own, its sentence below, then both again on one line as a summary."""
    text = (
        "The Basics of Tea Growing:\n"
        "A delicate balance between the science and art, tea is a plant that grows in "
        "harmony with nature. The process begins when an individual chooses to cultivate "
        "their own herb.\n\n"
        "The Basics of Tea Growing: A delicate balance between science and art, tea grows "
        "in harmony with nature."
    )
    assert checks.tidy(text) == text.split("\n\n")[0]


def test_a_summary_of_a_list_is_not_a_repeat_of_its_items() -> None:
    text = (
        "To brew it well:\n"
        "- Use fresh loose leaves\n"
        "- Steep them for three minutes\n\n"
        "In short, use fresh loose leaves and steep them for three minutes."
    )
    assert checks.tidy(text) == text


def test_lines_joined_for_the_repeat_check_are_not_repeats_themselves() -> None:
    """Only a later sentence that says the joined lines again goes: one that shares some
    of their words stays, and so do the lines."""
    text = (
        "Steam curls from the cup\n"
        "the kettle hums its last note\n"
        "rain on the tea fields\n\n"
        "The kettle hums while the rain falls on the fields of tea in the hills."
    )
    assert checks.tidy(text) == text


def test_tidy_drops_a_summary_of_the_article_but_not_an_article_in_the_story() -> None:
    """SmolLM2-135M's style pass (hand checks of 'How tea is grown') describing the
    article instead of being it."""
    text = (
        "The article on How tea is grown explores the journey of tea from bush to cup. "
        "In this article, we will look at the hills. Tea grows best on misty slopes. "
        "This essay will explore how this essential ingredient plays out its dual nature.\n"
        "The article concludes with a paragraph that is entirely different from the previous "
        "one.\n"
        "The article on how honey is made begins with a vivid description of the process. "
        'The article "How Honey is Made" explores the art of honey creation.\n'
        "The article on the front page of the Times praised the planters. "
        "Each article of clothing was dyed with strong tea."
    )
    assert checks.tidy(text) == (
        "Tea grows best on misty slopes.\n"
        "The article on the front page of the Times praised the planters. "
        "Each article of clothing was dyed with strong tea."
    )


def test_tidy_drops_the_article_going_on_about_itself() -> None:
    """SmolLM2-135M's section of 'Why cats purr' (read in the article ./scripts/up wrote)."""
    text = (
        "Cats purr through their larynx. "
        "The article continues by discussing the cat's ability to produce sound.\n"
        "The article about purring continues with an example from a vet."
    )
    assert checks.tidy(text) == "Cats purr through their larynx."
    # 'Why cats purr' and 'How lighthouses work', the next day; 'How bicycles stay upright'
    text = (
        "The paragraph then delves into how these inventions have changed over time. "
        "The article on why cats purr is a poignant reminder of our bond with cats. "
        "Cats purr when they are content.\n"
        "The article's section about the cat purring is filled with inspiration.\n"
        "The article about the power of purring is a testament to their physiology. "
        "The article on Cats and Purring is filled with stories.\n"
        "An article about how cats purr appeared in a journal in 1991."
    )
    assert checks.tidy(text) == (
        "Cats purr when they are content.\n"
        "An article about how cats purr appeared in a journal in 1991."
    )
    # 'How honey is made', SmolLM2-135M again
    text = (
        "The first paragraph delves into the history behind creating pure honey. "
        "Bees fan nectar with their wings.\n"
        "This article is replete with vivid details and anecdotes.\n"
        'The article, "In a Nutshell: The Story of Honey," explores the process.'
    )
    assert checks.tidy(text) == "Bees fan nectar with their wings."


def test_tidy_drops_the_prompt_said_back() -> None:
    """SmolLM2-135M, asked for the next paragraph of a section of 'Why cats purr' "Do not
    repeat what it already says", said so of its own text; another section said what the
    article "is dedicated to" (both read in the article ./scripts/up wrote)."""
    text = (
        "Cats purr to calm themselves. "
        "The conclusion ends well as it does not repeat anything from before.\n\n"
        "While it does not repeat anything from the previous paragraph, there are still "
        "some points that could enhance its clarity. Kittens purr while they nurse.\n\n"
        "This article is dedicated to the profound impact that cat owners can have."
    )
    assert checks.tidy(text) == "Cats purr to calm themselves.\n\nKittens purr while they nurse."
    kept = (
        "Do not repeat the same mistake twice: warm the pot first. "
        "Some birds repeat what they hear.\n"
        "The prize was dedicated to a local author."
    )
    assert checks.tidy(kept) == kept


def test_the_style_asked_for_is_not_written_into_the_text() -> None:
    """SmolLM2-135M, asked to rewrite a section of 'Why cats purr' "in a warm,
    conversational style", put the words into the section: a line above it and a
    sentence's subject (read in the article ./scripts/up wrote)."""
    style = "a warm, conversational style"
    text = (
        "Why cats purr in a warm, conversational style:\n"
        "Cats purring in a warm, conversational style is a fascinating topic. "
        "In a warm, conversational style, kittens purr while they nurse."
    )
    assert checks.without_instruction(text, f"in {style}") == (
        "Cats purring is a fascinating topic. Kittens purr while they nurse."
    )
    kept = "The host greeted us in a warm voice and a conversational tone."
    assert checks.without_instruction(kept, f"in {style}") == kept


def test_a_section_does_not_open_with_its_title_again() -> None:
    """SmolLM2-135M opened the section 'The Basics' of 'Why cats purr' with "The Basics
    of the Why Cats Purr:" above its list (read in the article ./scripts/up wrote)."""
    body = "1. Cats purr when they are content.\n2. Kittens purr while they nurse."
    said = checks.without_title_said
    assert said(f"The Basics of the Why Cats Purr:\n{body}", "The Basics", "Why cats purr") == body
    assert said(f"The Basics\n{body}", "The Basics", "Why cats purr") == body
    # and the first lines of 'Where It Begins' in 'The history of the bicycle' and of
    # 'The Process of Making Honey' in 'How honey is made', the next day
    story = "Early riders pushed themselves along with their feet."
    begins = said(
        f"The history of the bicycle.\n{story}", "Where It Begins", "history of the bicycle"
    )
    assert begins == story
    making = said(
        "The Process of Making Honey: a tale passed down through generations.",
        "The Process of Making Honey",
        "How honey is made",
    )
    assert making == "A tale passed down through generations."
    for kept in (
        f"Cats purr for three reasons:\n{body}",  # says more than the title
        "The basics of purring are simple.\nCats purr.",  # says more than the title
        "The Basics of Why Cats Purr:",  # nothing after it
        "Cats purr.",  # ... nor here
    ):
        assert said(kept, "The Basics", "Why cats purr") == kept


async def test_a_section_keeps_only_its_text_not_its_title_or_style_said_again(
    tmp_path: Path,
) -> None:
    styled = f"Coffee:\nCoffee, in a warm, conversational style:\n\n{STYLED_TEXT}"
    done, _, llm = await run_article(
        tmp_path,
        [
            Reply(OUTLINE, match="Write an outline"),
            Reply("", match="Write the next paragraph"),
            Reply(f"Coffee today:\n{SECTION_TEXT}", match="for the section 'Today'"),
            Reply(SECTION_TEXT, match="Write one paragraph"),
            Reply(styled, match="Rewrite this article draft"),
        ],
    )
    assert done["status"] == "completed", done["error"]
    drafts = [p for p in llm.prompts() if p.startswith("Rewrite")]
    assert not any("Coffee today:" in p for p in drafts)
    markdown = done["result"]["markdown"]
    assert "Coffee:" not in markdown and "conversational style" not in markdown
    assert markdown.count(STYLED_TEXT) == 3


def test_tidy_drops_a_last_line_of_only_stopwords() -> None:
    """SmolLM2-135M ended a section of 'Why cats purr' with a line saying "The"."""
    text = "Luna curled her tail.\nThe story has been told for years.\nThe"
    assert checks.tidy(text) == "Luna curled her tail.\nThe story has been told for years."
    poem = "The sea is wide\nand the sky is grey\nso far away"
    assert checks.tidy(poem) == poem


def test_tidy_drops_a_last_line_that_introduces_nothing() -> None:
    """SmolLM2-135M ended a styled section of 'How to brew green tea' with "The next
    paragraph is:" and nothing after it."""
    text = "Boil the water first.\n\nThen add the leaves.\n\nThe next paragraph is:"
    assert checks.tidy(text) == "Boil the water first.\n\nThen add the leaves."
    kept = "You need three things: water, leaves and time.\n\n## Serving:"
    assert checks.tidy(kept) == kept


def test_titles_with_two_forms_of_one_verb_name_the_same_part() -> None:
    """SmolLM2-135M's 'Where It Begins' and the fallback's 'Where it began' both went into
    one outline of 'Why cats purr'."""
    assert checks.too_alike("Why cats purr", "Where It Begins", "Where it began")
    assert checks.too_alike("How honey is made", "Where It Begun", "Where it began")
    assert not checks.too_alike("Why cats purr", "Where It Begins", "How it works")
    # the first five letters of a word and its shorter form are one word, as in a title
    assert checks.too_alike("coffee", "Brewing Tools", "Brew Tools")
    assert not checks.too_alike("coffee", "Brewing Tools", "Roasting Tools")
    assert checks.too_alike("How to brew green tea", "Brewing Tips", "Tips")
    assert checks.names_topic("How cheese is made", "Making Cheese at Home")


def test_tidy_drops_notes_on_the_rewrite_with_their_list_numbers() -> None:
    """SmolLM2-135M's style pass of 'How to brew green tea' listed what it changed."""
    text = (
        "Green tea has been loved for centuries.\n"
        "1) Original text was rewritten using a conversational tone. 2). The original "
        "sentence structure and vocabulary were reorganized to improve clarity.\n"
        "1. Boil the water. 2. Add the leaves.\n"
        "The original version of the recipe came from Kyoto.\n"
        "3."
    )
    assert checks.tidy(text) == (
        "Green tea has been loved for centuries.\n"
        "1. Boil the water. 2. Add the leaves.\n"
        "The original version of the recipe came from Kyoto."
    )


def test_a_cut_off_list_item_goes_with_its_number() -> None:
    """SmolLM2-135M's section of 'How bees make honey' (read in the article the embedded
    model wrote): the token limit cut its third item, and the article showed "3." alone."""
    said = "Bees are vital for their ecosystems, and for us."
    assert checks.tidy(f"{said}\n\n3. They Help Us to Improve") == said
    assert checks.tidy(f"{said}\n3. They Help Us to Improve") == said
    assert checks.tidy(f"{said} 3. They Help") == said
    finished = f"{said}\n\n3. They help us to improve our health."
    assert checks.tidy(finished) == finished  # a whole item stays


def test_a_section_title_is_not_a_file_name() -> None:
    """SmolLM2-135M titled a section of 'Why cats purr' "cat_purring.md"."""
    assert checks.heading_problem("cat_purring.md")
    assert checks.heading_problem("notes.txt")
    assert checks.heading_problem("Why Node.js Matters") is None
    assert checks.heading_problem("How It Works") is None


@settings(max_examples=2000, deadline=None)
@given(st.text(max_size=40) | st.text(alphabet=st.characters(max_codepoint=127), max_size=40))
def test_a_sentences_key_is_the_same_by_the_fast_path(sentence: str) -> None:
    """`_key` deletes ASCII text's other characters by `bytes.translate`; it must give
    what the regex gives, for any text."""
    expected = checks._NOT_IN_KEY.sub("", sentence.lower()).strip()
    assert checks._key(sentence) == expected, repr(sentence)


_INTRO_PARTS = ["Here's", "HERE is", "here are", "there", "an", "edited", "version", ":", "x" * 60]


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(_INTRO_PARTS), max_size=14), st.sampled_from(["", "İ", "ß"]))
def test_the_introduction_is_only_looked_for_where_it_can_start(
    parts: list[str], prefix: str
) -> None:
    """`unwrapped` skips `_INTRODUCED` when no "here" starts early enough: it must never
    skip a text the pattern would cut."""
    text = prefix + " ".join(parts)
    if "here" not in text[: checks._INTRODUCED_REACH].lower():
        assert checks._INTRODUCED.search(text) is None, text
