"""Python websockets against the axum echo example: echo of CJK, emoji and binary, and
permessage-deflate negotiated. Usage: python client.py ws://127.0.0.1:PORT/"""
import asyncio
import sys

from websockets.asyncio.client import connect


async def main(url: str) -> None:
    # websockets offers permessage-deflate by default (client_max_window_bits).
    async with connect(url, open_timeout=10, close_timeout=10) as ws:
        extensions = ws.response.headers.get("Sec-WebSocket-Extensions", "")
        assert extensions.startswith("permessage-deflate"), extensions
        for text in ["你好，世界", "🦀🎉 emoji", "こんにちは " * 500]:
            await ws.send(text)
            echo = await asyncio.wait_for(ws.recv(), 10)
            assert echo == text, (echo[:40], text[:40])
        blob = bytes(range(256)) * 1000
        await ws.send(blob)
        assert await asyncio.wait_for(ws.recv(), 10) == blob
    print(f"python websockets: echo ok, extensions: {extensions}")


asyncio.run(main(sys.argv[1]))
