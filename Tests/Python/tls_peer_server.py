"""An independent TLS server (Python's `ssl` module) for the runtime's TLS client tests.

Usage: tls_peer_server.py CERT KEY. Prints "port N" once listening on 127.0.0.1, then serves until
stdin closes. Each connection: TLS handshake (ALPN: http/1.1), then every byte is echoed back; the line
"alpn\\n" is answered with the protocol ALPN settled on ("none" without one). Handshake failures (a client
that rejects our certificate) are printed to stderr and the connection dropped.
"""
import socket
import ssl
import sys
import threading


def serve_one(context, raw):
    try:
        with context.wrap_socket(raw, server_side=True) as connection:
            while True:
                data = connection.recv(65536)
                if not data:
                    break
                if data == b"alpn\n":
                    connection.sendall(((connection.selected_alpn_protocol() or "none") + "\n").encode())
                else:
                    connection.sendall(data)
    except (ssl.SSLError, OSError) as error:
        print(f"connection ended: {error}", file=sys.stderr, flush=True)


def main():
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(sys.argv[1], sys.argv[2])
    context.set_alpn_protocols(["http/1.1"])
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    print(f"port {listener.getsockname()[1]}", flush=True)

    def accept_loop():
        while True:
            try:
                raw, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve_one, args=(context, raw), daemon=True).start()

    threading.Thread(target=accept_loop, daemon=True).start()
    sys.stdin.read()
    listener.close()


if __name__ == "__main__":
    main()
