"""Child process of the crash test: append forever and print every acknowledged seq.

Usage: ``python _crash_appender.py <log path> <durability>``. Prints ``ready``, then one
``<seq> <payload>`` line per acknowledged record and ``cursor <seq>`` after each saved cursor,
flushing after every acknowledgement, until it is killed.
"""

from __future__ import annotations

import asyncio
import sys
from typing import cast

from kawa.eventlog.sqlite import Durability, SqliteEventLog


async def main(path: str, durability: Durability) -> None:
    log = await SqliteEventLog.open(path, durability=durability)
    out = sys.stdout

    async def appender(task: int) -> None:
        i = 0
        while True:
            batch = [f"{task}:{i + k}".encode() for k in range(1 + i % 3)]
            i += len(batch)
            seqs = await log.append("crash", batch)
            out.write("".join(f"{s} {p.decode()}\n" for s, p in zip(seqs, batch, strict=True)))
            out.flush()

    async def consumer() -> None:
        seq = 0
        while True:
            await log.wait("crash", seq, 1)
            seq = await log.last_seq("crash")
            await log.save_cursor("trigger:crash", "crash", seq)
            out.write(f"cursor {seq}\n")
            out.flush()

    out.write("ready\n")
    out.flush()
    await asyncio.gather(consumer(), *(appender(t) for t in range(20)))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], cast(Durability, sys.argv[2])))
