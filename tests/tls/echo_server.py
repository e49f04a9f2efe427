"""A wss:// echo server from another library, for tests/tls/interop.sh: Python websockets over ssl.

usage: echo_server.py CERT.pem KEY.pem PORT_FILE

Listens on a free port of 127.0.0.1, writes the port to PORT_FILE once it listens, and echoes
every message back. A request for /refuse is answered 403 with a body, to test refusals.
"""

import asyncio
import http
import os
import ssl
import sys

from websockets.asyncio.server import serve


async def echo(ws):
    async for message in ws:
        await ws.send(message)


def refuse(connection, request):
    if request.path == "/refuse":
        return connection.respond(http.HTTPStatus.FORBIDDEN, "refused by the test server\n")
    return None


async def main(cert, key, port_file):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    async with serve(echo, "127.0.0.1", 0, ssl=context, process_request=refuse) as server:
        port = server.sockets[0].getsockname()[1]
        # Written whole, then renamed: the script never reads half a port.
        with open(port_file + ".tmp", "w") as f:
            f.write(f"{port}\n")
        os.replace(port_file + ".tmp", port_file)
        await asyncio.Future()


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    asyncio.run(main(*sys.argv[1:]))
