"""bench/sse.py: the benchmark clients' SSE framing, however the bytes are cut."""

from __future__ import annotations

import json

from bench.sse import SSEBlocks

STREAM = (
    b"retry: 2000\n\n"
    b'id: 1\nevent: job.created\ndata: {"seq":1}\n\n'
    b": ping\n\n"
    b'event: llm.delta\ndata: {"seq":null,"text":"a\\n\\nb"}\n\n'
    b'id: 2\nevent: job.completed\ndata: {"seq":2}\n\n'
)
EXPECTED = [{"seq": 1}, {"seq": None, "text": "a\n\nb"}, {"seq": 2}]


def parse(chunks: list[bytes]) -> list[object]:
    blocks = SSEBlocks()
    return [json.loads(data) for chunk in chunks for data in blocks.feed(chunk)]


def test_one_chunk_and_every_cut_give_the_same_events() -> None:
    assert parse([STREAM]) == EXPECTED
    for cut in range(1, len(STREAM)):
        assert parse([STREAM[:cut], STREAM[cut:]]) == EXPECTED, cut
    assert parse([bytes([b]) for b in STREAM]) == EXPECTED


def test_crlf_lines_even_when_cut_between_cr_and_lf() -> None:
    crlf = STREAM.replace(b"\n", b"\r\n")
    for cut in range(1, len(crlf)):
        assert parse([crlf[:cut], crlf[cut:]]) == EXPECTED, cut


def test_data_split_over_lines_is_joined_and_an_unfinished_block_waits() -> None:
    blocks = SSEBlocks()
    assert blocks.feed(b'data: {"a":\ndata: 1}\n') == []
    assert blocks.feed(b"\n") == [b'{"a":\n1}']
