"""Request and answer bodies on the wire: gzip of compact UTF-8 JSON, bounded when inflated,
and batch sizing so a batch never exceeds the server's limits (413).
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterable, Iterator
from typing import Any

from sync.chain import canonical_json
from sync.errors import ProtocolError
from sync.protocol import DEFAULT_LIMITS, Batch, Limits, WireEvent


def encode_body(doc: Any) -> bytes:
    """Compact UTF-8 JSON, gzipped (mtime 0: the same document gives the same bytes)."""
    data = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return gzip.compress(data, compresslevel=6, mtime=0)


def encode_batch(batch: Batch) -> bytes:
    """`encode_body(batch.to_json())`, event by event: the JSON text of the whole batch, its
    UTF-8 copy and a dict per event never exist at once (the uploader's peak memory on a Pi),
    only one event's text and the compressed output. Same JSON; the gzip header differs only in
    its OS byte, and the same batch still gives the same bytes."""
    envelope = batch.to_json(events=False)
    head = _compact({**envelope, "events": []})
    assert head.endswith("[]}")  # events is the last member: its items go between the brackets
    deflate = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    out = [deflate.compress(head[:-2].encode("utf-8"))]
    for index, event in enumerate(batch.events):
        text = _compact(event.to_json())
        out.append(deflate.compress((("," if index else "") + text).encode("utf-8")))
    out.append(deflate.compress(b"]}"))
    out.append(deflate.flush())
    return b"".join(out)


def _compact(doc: Any) -> str:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def decode_body(raw: bytes, content_encoding: str | None, max_decoded_bytes: int) -> Any:
    """Gunzip (bounded: a small bomb cannot expand into memory) and parse JSON."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding == "gzip":
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            data = inflater.decompress(raw, max_decoded_bytes + 1)
        except zlib.error as err:
            raise ProtocolError(f"body is not valid gzip: {err}", code="invalid_body") from err
        if len(data) > max_decoded_bytes or inflater.unconsumed_tail:
            raise ProtocolError(f"body expands beyond {max_decoded_bytes} bytes",
                                code="body_too_large")
        if not inflater.eof:
            raise ProtocolError("gzip body is truncated", code="invalid_body")
    elif encoding == "identity":
        data = raw
    else:
        raise ProtocolError(f"unsupported Content-Encoding {encoding!r}",
                            code="unsupported_encoding")
    try:
        return json.loads(data.decode("utf-8"))
    except RecursionError as err:  # nesting beyond the parser's stack: refused, not a crash
        raise ProtocolError("body JSON is nested too deeply", code="invalid_body") from err
    except (UnicodeDecodeError, ValueError) as err:
        raise ProtocolError(f"body is not UTF-8 JSON: {err}", code="invalid_body") from err


def split_batches(events: Iterable[WireEvent], limits: Limits = DEFAULT_LIMITS
                  ) -> Iterator[list[WireEvent]]:
    """Consecutive runs of events that fit one request: at most `max_events`, and JSON text
    small enough that even incompressible it stays under both byte limits."""
    budget = min(limits.max_body_bytes, limits.max_decoded_bytes) - 4096  # envelope, gzip
    batch: list[WireEvent] = []
    size = 0
    for event in events:
        cost = len(canonical_json(event.to_json()).encode("utf-8")) + 1
        if batch and (len(batch) >= limits.max_events or size + cost > budget):
            yield batch
            batch, size = [], 0
        batch.append(event)
        size += cost
    if batch:
        yield batch
