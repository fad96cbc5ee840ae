"""Independent TLS clients (Python's `ssl`, `http.client`, `websockets`) for the runtime's https and wss
tests. One command per run; prints one JSON object per line (most commands print one line).

Usage: tls_client.py COMMAND PORT CAFILE [ARGS...]
- get PATH                 GET over https://localhost:PORT: status, headers, body, alpn, version
- echo SIZE                POST SIZE pseudo-random bytes to /echo: status, length, same (body came back intact)
- pipeline COUNT           COUNT GET requests (/?n=i, then /echo POSTs) in one write on one connection: statuses, bodies
- wss PATH MESSAGE         WebSocket over wss://localhost:PORT/PATH: sends MESSAGE, returns the reply
- plain                    plain HTTP to the port: everything it answers before closing, as text
- tls-to-plain             a TLS handshake with a port that speaks plain HTTP: the error
- shutdown-probe           an idle keep-alive connection plus GET /slow?ms=1500 on another; prints
                           {"ready": true} once both are set up, then how the slow request ended and
                           whether the idle connection was closed
CAFILE is the CA to trust ("-" for commands that need none).
"""
import http.client
import json
import random
import socket
import ssl
import sys
import time


def context(cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def emit(**fields):
    print(json.dumps(fields), flush=True)


def connect(port, cafile):
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return context(cafile).wrap_socket(raw, server_hostname="localhost")


def cmd_get(port, cafile, path):
    connection = http.client.HTTPSConnection("localhost", port, timeout=10, context=context(cafile))
    # Verify against "localhost" but connect to 127.0.0.1 (localhost may resolve to ::1 first).
    connection._create_connection = lambda address, *args: socket.create_connection(("127.0.0.1", port), *args)
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read()
    emit(status=response.status, headers=[[k, v] for k, v in response.getheaders()],
         body=body.decode("utf-8", "replace"), alpn=connection.sock.selected_alpn_protocol(),
         version=connection.sock.version())
    connection.close()


def read_responses(tls, count):
    """Reads `count` Content-Length-framed responses off one TLS socket."""
    buffer = b""
    responses = []
    while len(responses) < count:
        while b"\r\n\r\n" not in buffer:
            chunk = tls.recv(65536)
            if not chunk:
                raise RuntimeError(f"connection closed after {len(responses)} responses")
            buffer += chunk
        head, buffer = buffer.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {line.split(":", 1)[0].strip().lower(): line.split(":", 1)[1].strip() for line in lines[1:]}
        length = int(headers.get("content-length", "0"))
        while len(buffer) < length:
            chunk = tls.recv(65536)
            if not chunk:
                raise RuntimeError("connection closed inside a body")
            buffer += chunk
        responses.append((status, headers, buffer[:length]))
        buffer = buffer[length:]
    return responses


def cmd_echo(port, cafile, size):
    size = int(size)
    body = random.Random(7).randbytes(size)
    tls = connect(port, cafile)
    request = (f"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\n"
               f"Content-Length: {size}\r\n\r\n").encode() + body
    tls.sendall(request)
    (status, headers, answer), = read_responses(tls, 1)
    emit(status=status, length=len(answer), same=answer == body, alpn=tls.selected_alpn_protocol())
    tls.close()


def cmd_pipeline(port, cafile, count):
    count = int(count)
    tls = connect(port, cafile)
    requests = b""
    for index in range(count):
        if index % 2 == 0:
            requests += f"GET /?n={index} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode()
        else:
            body = f"body {index}".encode()
            requests += (f"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
    tls.sendall(requests)
    responses = read_responses(tls, count)
    emit(statuses=[status for status, _, _ in responses],
         bodies=[body.decode("utf-8", "replace") for _, _, body in responses])
    tls.close()


def cmd_wss(port, cafile, path, message):
    from websockets.sync.client import connect as ws_connect
    with ws_connect(f"wss://localhost:{port}{path}", ssl=context(cafile), open_timeout=10,
                    sock=socket.create_connection(("127.0.0.1", port), timeout=10),
                    server_hostname="localhost") as websocket:
        websocket.send(message)
        reply = websocket.recv(timeout=10)
        emit(reply=reply, alpn=websocket.socket.selected_alpn_protocol()
             if hasattr(websocket.socket, "selected_alpn_protocol") else None)


def cmd_plain(port):
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    raw.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    received = b""
    try:
        while True:
            chunk = raw.recv(65536)
            if not chunk:
                break
            received += chunk
    except ConnectionResetError:
        pass
    emit(text=received.decode("utf-8", "replace"))


def cmd_tls_to_plain(port, cafile):
    started = time.monotonic()
    try:
        tls = connect(port, cafile)
        tls.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        emit(error=None, received=tls.recv(100).decode("utf-8", "replace"))
    except (ssl.SSLError, OSError) as error:
        emit(error=f"{type(error).__name__}: {error}", seconds=time.monotonic() - started)


def cmd_shutdown_probe(port, cafile):
    idle = connect(port, cafile)
    idle.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    read_responses(idle, 1)
    slow = connect(port, cafile)
    slow.sendall(b"GET /slow?ms=1500 HTTP/1.1\r\nHost: localhost\r\n\r\n")
    time.sleep(0.2)
    emit(ready=True)
    (status, headers, body), = read_responses(slow, 1)
    idle.settimeout(10)
    try:
        idle_closed = idle.recv(100) == b""
        idle_clean = idle_closed
    except ssl.SSLEOFError:
        idle_closed, idle_clean = True, False
    except (ssl.SSLError, OSError):
        idle_closed, idle_clean = True, False
    emit(status=status, body=body.decode(), connection=headers.get("connection"), idle_closed=idle_closed,
         idle_clean=idle_clean)


def main():
    command, port, cafile, *rest = sys.argv[1:]
    port = int(port)
    handlers = {
        "get": lambda: cmd_get(port, cafile, *rest),
        "echo": lambda: cmd_echo(port, cafile, *rest),
        "pipeline": lambda: cmd_pipeline(port, cafile, *rest),
        "wss": lambda: cmd_wss(port, cafile, *rest),
        "plain": lambda: cmd_plain(port),
        "tls-to-plain": lambda: cmd_tls_to_plain(port, cafile),
        "shutdown-probe": lambda: cmd_shutdown_probe(port, cafile),
    }
    try:
        handlers[command]()
    except Exception as error:  # the test reads the failure from the JSON
        emit(failure=f"{type(error).__name__}: {error}")


if __name__ == "__main__":
    main()
