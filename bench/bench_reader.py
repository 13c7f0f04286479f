"""Reader benchmarks (issue 2): software cost of a read, idle polling CPU, parser rate, memory.

Run: .venv/bin/python bench/bench_reader.py [--idle-seconds 30] [--reads 50]

Figures and goals:
1. one full read (find, select, read base) over a pseudo-terminal, simulator without card delay,
   as a ratio of the wire time of the same bytes at 115200 baud (~115 ms)      goal < 0.03
   (baseline in the same run: the same bytes echoed through a bare pty, no protocol)
2. CPU of `anju card watch` polling with no card, share of one core           goal < 0.5 %
3. parser throughput on a recorded response stream, multiple of the 115200 wire rate
   (baseline in the same run: a bare `bytes.find` scan of the same stream)     goal > 1000x
4. resident memory of `anju card watch`                                         goal < 40 MB
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from drivers.idcard import codec, sam_answers
from drivers.idcard.codec import ResponseDecoder, Status
from drivers.idcard.reader import CardReader, ReaderSettings
from drivers.idcard.reading import CardRead
from drivers.idcard.transport import SerialTransport, wire_seconds
from drivers.sim.idcard import SimulatedReader
from drivers.sim.sam import load_sim_cards

ROOT = Path(__file__).resolve().parent.parent
CARDS = ROOT / "drivers" / "sim" / "cards" / "synthetic.json"
ANJU = Path(sys.executable).parent / "anju"


def _recorded_stream() -> bytes:
    """What a reader sends during one placement: find, select, base read, no address, then idle."""
    card = load_sim_cards(CARDS)[0]
    base = sam_answers.encode_base_message(card.text, card.photo)
    answers = [
        codec.Response(Status.CARD_FOUND, bytes(4)),
        codec.Response(Status.SUCCESS, bytes(8)),
        codec.Response(Status.SUCCESS, base),
        codec.Response(Status.NO_CONTENT),
        *[codec.Response(Status.FIND_FAILED)] * 10,
    ]
    return b"".join(a.to_bytes() for a in answers)


def bench_parser(rounds: int = 200, chunk: int = 64) -> None:
    stream = _recorded_stream() * 20
    chunks = [stream[i : i + chunk] for i in range(0, len(stream), chunk)]
    best = float("inf")
    frames = 0
    for _ in range(5):
        decoder = ResponseDecoder()
        started = time.perf_counter()
        for _ in range(rounds // 5):
            for piece in chunks:
                frames += len(decoder.feed(piece))
        best = min(best, (time.perf_counter() - started) / (rounds // 5))
    rate = len(stream) / best
    wire_rate = 115200 / 10
    started = time.perf_counter()
    for _ in range(rounds):
        _split_only(stream)
    split = (time.perf_counter() - started) / rounds
    print(f"parser: {rate / 1e6:.2f} MB/s on {len(chunks)} x {chunk}-byte chunks "
          f"= {rate / wire_rate:,.0f}x the 115200-baud wire rate (goal > 1000x); baseline "
          f"(whole stream, split by length, no checks) {len(stream) / split / 1e6:.1f} MB/s, "
          f"parser costs {best / split:.1f}x the baseline")


def _split_only(stream: bytes) -> int:
    """The least any parser must do: find each preamble and skip by the length field."""
    count = position = 0
    while (start := stream.find(codec.PREAMBLE, position)) >= 0:
        position = start + 7 + int.from_bytes(stream[start + 5 : start + 7], "big")
        count += 1
    return count


def _pty_echo_baseline(payload: int, rounds: int) -> float:
    """Seconds to push `payload` bytes through a pty and read them back: the floor for a read."""
    import tty

    master, slave = os.openpty()
    tty.setraw(slave)
    data = bytes(payload)
    try:
        started = time.perf_counter()
        for _ in range(rounds):
            os.write(master, data[: payload // 2])
            os.write(master, data[payload // 2 :])
            got = 0
            while got < payload:
                got += len(os.read(slave, payload))
        return (time.perf_counter() - started) / rounds
    finally:
        os.close(master)
        os.close(slave)


def bench_full_read(reads: int) -> None:
    """One placement through the real reader loop: find, select, read base, decode, emit."""
    cards = load_sim_cards(CARDS)
    got: list[CardRead] = []
    durations = []
    settings = ReaderSettings(read_appended_address=False)
    with SimulatedReader() as sim:
        reader = CardReader(SerialTransport(sim.port), got.append, settings=settings)
        reader.poll_once()  # connect: probe, SAM id
        try:
            for i in range(reads):
                sim.place(cards[i % len(cards)])
                started = time.perf_counter()
                card = reader.poll_once()
                durations.append(time.perf_counter() - started)
                assert card is not None
                sim.remove()
                reader.poll_once()
                reader.poll_once()  # two empty polls: the card counts as lifted
        finally:
            reader.stop()
    wire_bytes = 10 + 15 + 10 + 19 + 10 + 1295
    wire = wire_seconds(wire_bytes, 115200)
    median = statistics.median(durations)
    floor = _pty_echo_baseline(wire_bytes, reads)
    print(f"full read: median {median * 1000:.2f} ms, p90 "
          f"{statistics.quantiles(durations, n=10)[-1] * 1000:.2f} ms over {reads} placements; "
          f"wire time at 115200 {wire * 1000:.1f} ms -> ratio {median / wire:.4f} (goal < 0.03); "
          f"bare pty echo of the same bytes {floor * 1000:.3f} ms (x{median / floor:.1f})")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bench_idle_watch(seconds: float) -> None:
    with SimulatedReader() as sim:
        proc = subprocess.Popen(
            [str(ANJU), "card", "watch", "--port", sim.port],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(3.0)  # start-up (imports, probe) is not polling
            cpu_before = _cpu_seconds(proc.pid)
            started = time.monotonic()
            time.sleep(seconds)
            cpu = _cpu_seconds(proc.pid) - cpu_before
            wall = time.monotonic() - started
            rss = _rss_mb(proc.pid)
        finally:
            proc.terminate()
            proc.wait(10)
    print(f"idle polling: {cpu:.3f} s CPU over {wall:.1f} s = {100 * cpu / wall:.3f} % of one "
          f"core (goal < 0.5 %); requests answered by the simulator: {sim.stats.requests}")
    print(f"memory: anju card watch RSS {rss:.1f} MB (goal < 40 MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--reads", type=int, default=50)
    args = parser.parse_args()
    bench_parser()
    bench_full_read(args.reads)
    bench_idle_watch(args.idle_seconds)


if __name__ == "__main__":
    main()
