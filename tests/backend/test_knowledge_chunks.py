"""Chunking: sections by heading, roughly 80-200 words a chunk, the heading kept as
context and in `source`; the document's text is all there, none of it twice."""

from __future__ import annotations

from backend.knowledge.chunks import MAX_WORDS, chunk_document, words


def sentence(i: int) -> str:
    return f"Sentence number {i} says something useful about the topic at hand."  # 11 words


def paragraph(first: int, sentences: int) -> str:
    return " ".join(sentence(i) for i in range(first, first + sentences))


def body_words(chunk_text: str) -> int:
    """Words of a chunk without its heading line."""
    return words(chunk_text.split("\n\n", 1)[1] if "\n\n" in chunk_text else chunk_text)


def test_headings_end_chunks_and_stay_as_context() -> None:
    text = (
        "# Guide\n\nIntro text.\n\n## Install\n\nRun the installer.\n\n### On Linux\n\nUse apt.\n"
    )
    chunks = chunk_document(text, "guide.md")
    assert [(c.source, c.text) for c in chunks] == [
        ("guide.md#Guide", "Guide\n\nIntro text."),
        ("guide.md#Install", "Guide > Install\n\nRun the installer."),
        ("guide.md#On Linux", "Guide > Install > On Linux\n\nUse apt."),
    ]


def test_a_sibling_heading_replaces_the_previous_one_in_the_trail() -> None:
    text = "# A\n\n## B\n\nb text\n\n## C\n\nc text\n\n# D\n\nd text\n"
    assert [c.text.split("\n\n")[0] for c in chunk_document(text, "x.md")] == [
        "A > B",
        "A > C",
        "D",
    ]


def test_plain_text_without_headings_is_sourced_by_file_name() -> None:
    chunks = chunk_document("First paragraph.\n\nSecond paragraph.", "notes.txt")
    assert [(c.source, c.text) for c in chunks] == [
        ("notes.txt", "First paragraph.\n\nSecond paragraph.")
    ]


def test_underlined_headings_count_and_rules_do_not_leak() -> None:
    text = "Prices\n======\n\nTea costs 3 euro.\n\n---\n\nCoffee\n------\n\nCoffee costs 2 euro.\n"
    chunks = chunk_document(text, "menu.txt")
    assert [(c.source, c.text) for c in chunks] == [
        ("menu.txt#Prices", "Prices\n\nTea costs 3 euro."),
        ("menu.txt#Coffee", "Prices > Coffee\n\nCoffee costs 2 euro."),
    ]


def test_a_long_section_is_cut_evenly_on_paragraph_boundaries() -> None:
    paragraphs = [paragraph(i * 5, 5) for i in range(8)]  # 8 paragraphs of 55 words: 440
    chunks = chunk_document("## Long\n\n" + "\n\n".join(paragraphs), "long.md")
    sizes = [body_words(c.text) for c in chunks]
    assert len(chunks) == 3 and all(80 <= s <= MAX_WORDS for s in sizes), sizes
    bodies = [c.text.split("\n\n", 1)[1] for c in chunks]
    assert "\n\n".join(bodies) == "\n\n".join(paragraphs)  # all of it, in order, once
    assert all(c.source == "long.md#Long" for c in chunks)


def test_a_very_long_paragraph_is_cut_at_sentence_ends() -> None:
    text = paragraph(0, 50)  # one paragraph of 550 words
    chunks = chunk_document(text, "wall.txt")
    sizes = [words(c.text) for c in chunks]
    assert all(s <= MAX_WORDS for s in sizes) and sum(sizes) == 550, sizes
    assert all(c.text.endswith(".") for c in chunks)  # whole sentences
    endless = " ".join(["word"] * 450)  # no sentence end at all: cut between words
    assert [words(c.text) for c in chunk_document(endless, "w.txt")] == [200, 200, 50]


def test_code_fences_keep_their_blank_lines_and_hashes() -> None:
    text = "## Example\n\n```python\n# not a heading\n\nprint('hi')\n```\n\nAfter the code.\n"
    chunks = chunk_document(text, "code.md")
    assert len(chunks) == 1
    assert "```python\n# not a heading\n\nprint('hi')\n```" in chunks[0].text
    assert chunks[0].source == "code.md#Example"


def test_windows_newlines_and_empty_documents() -> None:
    assert [c.text for c in chunk_document("# T\r\n\r\nBody\r\n", "w.md")] == ["T\n\nBody"]
    assert chunk_document("  \n\n \n", "empty.md") == []
    assert [c.source for c in chunk_document("# " + "h" * 500 + "\n\nx", "h.md")] == [
        "h.md#" + "h" * 200
    ]
