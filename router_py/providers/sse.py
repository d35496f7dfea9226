"""Server-sent events: an incremental parser (WHATWG `text/event-stream` rules) and an encoder.

Chunks from the network split anywhere (inside a field, a CRLF pair or a UTF-8 sequence), so the
parser keeps the undecided tail between calls and never guesses: the events out of a stream do
not depend on where it was cut.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class SseEvent:
    data: str
    event: str = "message"
    id: str | None = None


@dataclass(slots=True)
class SseParser:
    """Feed chunks, get the events they complete; `close()` says whether the stream ended clean."""

    _decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")("replace")
    )
    _buffer: str = ""
    _data: list[str] = field(default_factory=list)
    _event: str = ""
    _last_id: str | None = None
    _started: bool = False

    def feed(self, chunk: bytes | str) -> list[SseEvent]:
        text = self._decoder.decode(chunk) if isinstance(chunk, bytes) else chunk
        if not self._started and text:
            self._started = True
            text = text.removeprefix("\ufeff")
        self._buffer += text
        return self._drain()

    def close(self) -> tuple[list[SseEvent], bool]:
        """Flush at end of input: the events still owed and whether nothing was left half-sent.

        Per the spec an event without its blank line is dropped; callers that need a terminal
        event treat `False` as a cut stream.
        """
        self._buffer += self._decoder.decode(b"", final=True)
        # A lone CR at the very end is a complete line ending: nothing can follow it now.
        events = self._drain(at_end=True)
        clean = not self._buffer and not self._data and not self._event
        return events, clean

    def _drain(self, *, at_end: bool = False) -> list[SseEvent]:
        events: list[SseEvent] = []
        while True:
            line, rest = _split_line(self._buffer, at_end=at_end)
            if line is None:
                return events
            self._buffer = rest
            event = self._process(line)
            if event is not None:
                events.append(event)

    def _process(self, line: str) -> SseEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._last_id = value
        # `retry` and unknown fields carry nothing a one-shot client acts on.
        return None

    def _dispatch(self) -> SseEvent | None:
        data, event = self._data, self._event
        self._data, self._event = [], ""
        if not data:
            return None
        return SseEvent(data="\n".join(data), event=event or "message", id=self._last_id)


def _split_line(buffer: str, *, at_end: bool) -> tuple[str | None, str]:
    """The first complete line and what follows; a trailing CR waits for a possible LF."""
    lf = buffer.find("\n")
    cr = buffer.find("\r", 0, lf if lf != -1 else len(buffer))
    if cr == -1:
        return (None, buffer) if lf == -1 else (buffer[:lf], buffer[lf + 1 :])
    if cr + 1 < len(buffer):
        return buffer[:cr], buffer[cr + (2 if buffer[cr + 1] == "\n" else 1) :]
    return (buffer[:cr], "") if at_end else (None, buffer)


def encode_event(data: str, *, event: str | None = None) -> bytes:
    """One event on the wire; multi-line data becomes one `data:` line per line."""
    lines = [f"event: {event}"] if event else []
    lines.extend(f"data: {part}" for part in data.split("\n"))
    return ("\n".join(lines) + "\n\n").encode()
