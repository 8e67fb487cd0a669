"""A Singer message reader that rejects bad lines instead of stopping the target.

singer-sdk's reader (``GenericSingerReader.process_lines``) raises on the first line that is
not JSON, is not an object, has no ``type`` or an unknown ``type``: one bad line from a tap
would stop the whole load and lose the batch in flight. This reader runs the same loop but
hands each such line to ``on_bad_line`` (the target writes it, raw, to the rejects file with
the reason and its line number) and goes on. Problems *inside* a well-formed message
(RECORD before SCHEMA, a record violating its schema, an invalid SCHEMA) are handled by the
target's message callbacks, not here.
"""

from __future__ import annotations

import json
import typing as t
from collections import Counter, defaultdict
from collections.abc import Callable

from singer_sdk.io_base import SingerReader
from singer_sdk.singerlib.exceptions import InvalidInputLine
from singer_sdk.singerlib.json import deserialize_json
from typing_extensions import override

BadLineHandler = Callable[[str, int, str], None]
INVALID = "INVALID"  # counter key for rejected lines


class RejectingSingerReader(SingerReader):
    """``process_lines`` that turns unreadable lines into rejects (see module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.line_number = 0
        self.on_bad_line: BadLineHandler | None = None

    @override
    def deserialize_json(self, line: str) -> dict:
        # The SDK's version logs a traceback with the line; the target logs one clear line.
        try:
            return deserialize_json(line)
        except (json.JSONDecodeError, ValueError) as exc:
            raise InvalidInputLine(f"not valid JSON ({exc})") from exc

    @override
    def process_lines(
        self,
        file_input: t.IO[str] | None,
        callbacks: dict[str, Callable[[dict], None]],
    ) -> t.Counter[str]:
        stats: dict[str, int] = defaultdict(int)
        for line in file_input or self.default_input:
            self.line_number += 1
            self._current_message = line
            if not line.strip():
                continue  # a blank line carries nothing to lose
            reason = None
            message: t.Any = None
            try:
                message = self.deserialize_json(line)
            except InvalidInputLine as exc:
                reason = f"Line {self.line_number} is {exc}"
            if reason is None and not isinstance(message, dict):
                reason = f"Line {self.line_number} is JSON but not an object (a Singer message)"
            elif reason is None and "type" not in message:
                reason = f"Line {self.line_number} has no 'type' key, so it is not a Singer message"
            elif reason is None and message["type"] not in callbacks:
                reason = (
                    f"Line {self.line_number} has unknown message type {message['type']!r} "
                    f"(expected one of {', '.join(sorted(callbacks))})"
                )
            if reason is not None:
                stats[INVALID] += 1
                self._bad_line(line, reason)
                continue
            callbacks[message["type"]](message)
            stats[message["type"]] += 1
        return Counter(**stats)

    def _bad_line(self, line: str, reason: str) -> None:
        if self.on_bad_line is None:
            raise InvalidInputLine(reason)
        self.on_bad_line(line.rstrip("\r\n"), self.line_number, reason)
