#!/usr/bin/env python3
"""A small HTTP server for lamina-load's tests (standard library only).

    test_server.py [--delay SECONDS] [--status CODE] [--mode reply|reset|truncate]

Listens on a free port of 127.0.0.1 and prints "ready PORT" once it accepts
connections. Every request waits --delay seconds, then:
  reply     answers with --status (default 200) and closes the connection;
  reset     resets the connection (RST, no reply);
  truncate  sends half a status line and closes the connection.
Runs until terminated.
"""

import argparse
import socket
import struct
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    delay = 0.0
    status = 200
    mode = "reply"

    def do_GET(self):
        time.sleep(self.delay)
        if self.mode == "reset":
            # Linger with a zero timeout: close() sends RST instead of FIN.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        if self.mode == "truncate":
            self.wfile.write(b"HTTP/1.1 2")
            self.close_connection = True
            return
        body = b"lamina-load test server\n"
        self.send_response(self.status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, format, *args):  # quiet: the tests read only stdout's first line
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # bursts of new connections must not overflow the backlog

    def handle_error(self, request, client_address):
        pass  # clients that give up (timeouts) are expected


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--status", type=int, default=200)
    parser.add_argument("--mode", choices=("reply", "reset", "truncate"), default="reply")
    arguments = parser.parse_args()
    Handler.delay = arguments.delay
    Handler.status = arguments.status
    Handler.mode = arguments.mode
    server = Server(("127.0.0.1", 0), Handler)
    print(f"ready {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
