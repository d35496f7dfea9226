"""The SSE parser: the spec's edge cases, and that where a stream is split never changes what is parsed."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from router_py.providers.sse import SseEvent, SseParser, encode_event


def parse(*chunks: bytes | str) -> tuple[list[SseEvent], bool]:
    parser = SseParser()
    events = [e for chunk in chunks for e in parser.feed(chunk)]
    tail, clean = parser.close()
    return events + tail, clean


def test_fields_comments_and_multiline_data() -> None:
    stream = ": keep-alive\n\nevent: delta\ndata: first\ndata:second\nid: 7\nretry: 100\nbogus\n\ndata: [DONE]\n\n"
    events, clean = parse(stream)
    assert events == [
        SseEvent(data="first\nsecond", event="delta", id="7"),
        SseEvent(data="[DONE]", event="message", id="7"),
    ]
    assert clean


def test_crlf_cr_and_a_byte_order_mark() -> None:
    assert parse(b"\xef\xbb\xbfdata: a\r\n\r\ndata: b\r\rdata: c\n\n")[0] == [
        SseEvent("a"),
        SseEvent("b"),
        SseEvent("c"),
    ]


def test_an_event_without_data_is_not_dispatched_and_resets_its_type() -> None:
    assert parse("event: ping\n\ndata: x\n\n")[0] == [SseEvent("x")]


def test_only_one_space_after_the_colon_is_dropped() -> None:
    assert parse("data:  two spaces\n\n")[0] == [SseEvent(" two spaces")]


def test_a_stream_that_stops_mid_event_is_not_clean() -> None:
    assert parse("data: complete\n\ndata: half")[0] == [SseEvent("complete")]
    assert parse("data: complete\n\ndata: half")[1] is False
    assert parse("data: complete\n\ndata: no blank line\n")[1] is False


def test_a_cr_at_the_end_of_a_chunk_waits_for_a_possible_lf() -> None:
    # "\r" then "\n" in the next chunk is one line ending, not a line ending and an empty line.
    events, _ = parse("data: a\r", "\ndata: b\r\n\r\n")
    assert events == [SseEvent("a\nb")]


def test_a_utf8_character_split_across_chunks() -> None:
    raw = encode_event("café ☕")
    cut = raw.index("☕".encode()) + 1
    assert parse(raw[:cut], raw[cut:])[0] == [SseEvent("café ☕")]


line_text = st.text(st.characters(blacklist_characters="\r\n", blacklist_categories=["Cs"]), max_size=20)
events_strategy = st.lists(
    st.tuples(
        st.lists(line_text, min_size=1, max_size=3).map("\n".join),
        st.one_of(st.none(), line_text.filter(lambda s: s.strip() != "")),
    ),
    max_size=6,
)


def render(events: list[tuple[str, str | None]], newline: str, comments: bool) -> bytes:
    out = bytearray()
    for data, name in events:
        if comments:
            out += f": note{newline}".encode()
        out += encode_event(data, event=name).replace(b"\n", newline.encode())
    return bytes(out)


@given(
    events_strategy,
    st.sampled_from(["\n", "\r\n", "\r"]),
    st.booleans(),
    st.lists(st.integers(min_value=0), max_size=8),
)
def test_split_points_do_not_change_the_events(
    events: list[tuple[str, str | None]], newline: str, comments: bool, cuts: list[int]
) -> None:
    raw = render(events, newline, comments)
    points = sorted({c % (len(raw) + 1) for c in cuts})
    chunks = [raw[a:b] for a, b in zip([0, *points], [*points, len(raw)], strict=True)]
    whole, whole_clean = parse(raw)
    split, split_clean = parse(*chunks)
    assert split == whole
    assert split_clean == whole_clean
    assert [(e.data, e.event) for e in whole] == [(data, name or "message") for data, name in events]
