"""A tiny TCP round-robin balancer for the multi-instance check when nginx is absent.

It forwards bytes, so HTTP and websocket upgrades pass through unchanged. A backend that
refuses the connection is skipped, as nginx's `proxy_next_upstream error` would.

    python deploy/smoke/balancer.py LISTEN_PORT BACKEND_PORT [BACKEND_PORT …]
"""

from __future__ import annotations

import asyncio
import itertools
import sys


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def serve(listen: int, backends: list[int]) -> None:
    ring = itertools.cycle(backends)

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        for _ in backends:
            port = next(ring)
            try:
                up_r, up_w = await asyncio.open_connection("127.0.0.1", port)
                break
            except OSError:
                continue
        else:
            client_w.close()
            return
        await asyncio.gather(_pipe(client_r, up_w), _pipe(up_r, client_w))

    server = await asyncio.start_server(handle, "127.0.0.1", listen)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]), [int(p) for p in sys.argv[2:]]))
