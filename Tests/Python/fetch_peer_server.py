"""An independent HTTP/1.1 server (Python's http.server) for the runtime's fetch tests.

Usage: fetch_peer_server.py [CERT KEY]. With a certificate and key it serves HTTPS (Python's `ssl`).
Prints "port N" once listening on loopback (127.0.0.1, and ::1 where there is IPv6, so "localhost"
reaches it whichever address it resolves to first), then serves until stdin closes. Every response carries
"X-Connection: <n>", the number of the TCP connection it went out on (counted from 1), so a test can
tell whether two requests shared one.

Routes:
  /echo                 any method: JSON {method, path, headers: [[name, value]], body, connection}
  /chunked?n=K          K chunks "chunk i\\n", chunked transfer-coding, with a trailer field
  /big?bytes=N          N bytes of a pattern (byte i is i % 251), Content-Length, written 64 KiB at a time
  /big-chunked?bytes=N  the same, chunked (64 KiB chunks)
  /redirect?code=C&to=L status C, Location L, a short body
  /hops?left=K          redirects to the relative "hops?left=K-1" until K is 0, then 200 "arrived"
  /stall                reads the request and never answers
  /trickle?count=N&interval=S
                        Content-Length N, then one byte every S seconds
  /malformed            a Content-Length that is not a number
  /garbage              bytes that are no HTTP at all
  /cut                  Content-Length 100, 10 bytes, then the connection closes
  /close                a response with "Connection: close"
  /silent-close         a keep-alive response, after which the server closes the connection anyway
"""
import itertools
import json
import socket
import socketserver
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

connection_numbers = itertools.count(1)


# One period-aligned slab from which every piece of the pattern is sliced (a piece is at most 64 KiB).
PATTERN = bytes(i % 251 for i in range(251 * 262))


def pattern(start, count):
    offset = start % 251
    return PATTERN[offset:offset + count]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        self.connection_number = next(connection_numbers)

    def log_message(self, format, *args):
        pass

    def query(self, name, default):
        values = parse_qs(urlsplit(self.path).query).get(name)
        return values[0] if values else default

    def send_head(self, status, headers):
        self.send_response(status)
        self.send_header("X-Connection", str(self.connection_number))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()

    def reply(self, status, body, headers=()):
        self.send_head(status, [("Content-Length", str(len(body)))] + list(headers))
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        self.route()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def route(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = urlsplit(self.path).path
        handler = getattr(self, "route_" + path.strip("/").replace("-", "_"), None)
        if handler is None:
            return self.reply(404, b"no such route\n")
        handler(body)

    def route_echo(self, body):
        answer = {
            "method": self.command,
            "path": self.path,
            "headers": [[name, value] for name, value in self.headers.items()],
            "body": body.decode("utf-8", "replace"),
            "connection": self.connection_number,
        }
        self.reply(200, json.dumps(answer).encode(), [("Content-Type", "application/json")])

    def route_chunked(self, body):
        count = int(self.query("n", "3"))
        self.send_head(200, [("Transfer-Encoding", "chunked"), ("Trailer", "X-Checksum")])
        for index in range(count):
            data = f"chunk {index}\n".encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.write(b"0\r\nX-Checksum: done\r\n\r\n")

    def route_big(self, body):
        total = int(self.query("bytes", "0"))
        self.send_head(200, [("Content-Length", str(total))])
        self.write_pattern(total, chunked=False)

    def route_big_chunked(self, body):
        total = int(self.query("bytes", "0"))
        self.send_head(200, [("Transfer-Encoding", "chunked")])
        self.write_pattern(total, chunked=True)
        self.wfile.write(b"0\r\n\r\n")

    def write_pattern(self, total, chunked):
        sent = 0
        while sent < total:
            piece = pattern(sent, min(65536, total - sent))
            if chunked:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            else:
                self.wfile.write(piece)
            sent += len(piece)

    def route_redirect(self, body):
        code = int(self.query("code", "302"))
        self.reply(code, b"redirecting\n", [("Location", self.query("to", "/echo"))])

    def route_hops(self, body):
        left = int(self.query("left", "0"))
        if left <= 0:
            return self.reply(200, b"arrived\n")
        self.reply(302, b"", [("Location", f"hops?left={left - 1}")])

    def route_stall(self, body):
        time.sleep(30)
        self.close_connection = True

    def route_trickle(self, body):
        count = int(self.query("count", "10"))
        interval = float(self.query("interval", "0.1"))
        self.send_head(200, [("Content-Length", str(count))])
        for _ in range(count):
            self.wfile.write(b"x")
            self.wfile.flush()
            time.sleep(interval)

    def route_malformed(self, body):
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: twelve\r\n\r\nhello world\n")
        self.close_connection = True

    def route_garbage(self, body):
        self.wfile.write(b"this is not HTTP\r\n\r\n")
        self.close_connection = True

    def route_cut(self, body):
        self.send_head(200, [("Content-Length", "100")])
        self.wfile.write(b"0123456789")
        self.close_connection = True

    def route_silent_close(self, body):
        self.reply(200, b"bye\n")
        self.close_connection = True

    def route_close(self, body):
        self.reply(200, b"closing\n", [("Connection", "close")])
        self.close_connection = True


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    tls = None

    def get_request(self):
        raw, address = self.socket.accept()
        if self.tls is None:
            return raw, address
        # The handshake runs in the connection's thread (on its first read), so a client that rejects
        # our certificate only ends its own connection.
        return self.tls.wrap_socket(raw, server_side=True, do_handshake_on_connect=False), address

    def handle_error(self, request, client_address):
        pass


class IPv6Server(Server):
    address_family = socket.AF_INET6


def main():
    servers = [Server(("127.0.0.1", 0), Handler)]
    port = servers[0].server_address[1]
    try:
        servers.append(IPv6Server(("::1", port), Handler))
    except OSError:
        pass  # no IPv6 loopback here: "localhost" is 127.0.0.1 then
    if len(sys.argv) == 3:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(sys.argv[1], sys.argv[2])
        for server in servers:
            server.tls = context
    print(f"port {port}", flush=True)
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()
    for server in servers:
        server.shutdown()


if __name__ == "__main__":
    main()
