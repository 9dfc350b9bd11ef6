# pyshop: the toolkit's second example, a deliberately different app. Python's standard library only,
# HTTP/1.1 keep-alive, no database, no special response headers. One program, two services: SERVICE
# (set by the toolkit) says which one it is; PORT and READY_PATH come from the manifest's env.
import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SERVICE = os.environ.get("SERVICE", "web")
PORT = int(os.environ.get("PORT", "8000"))
READY_PATH = os.environ.get("READY_PATH", "/healthz")
VERSION = os.environ.get("VERSION", "")
SLOT = os.environ.get("SLOT", "")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive towards nginx

    def do_GET(self):
        if self.path == READY_PATH:
            body = b"ready\n"
            kind = "text/plain"
        elif self.path.startswith("/static/"):
            # a static asset of this release (cached by nginx: the manifest's /static/ route has cache:)
            rules = "".join(".item-%d { color: #%06x; margin: %dpx; }\n" % (i, i * 4099, i) for i in range(80))
            body = ("/* pyshop %s %s %s */\n%s" % (VERSION, SLOT, self.path, rules)).encode()
            kind = "text/css"
        else:
            doc = {
                "service": SERVICE,
                "replica": os.environ.get("REPLICA", ""),
                "slot": os.environ.get("SLOT", ""),
                "version": os.environ.get("VERSION", ""),
                "path": self.path,
            }
            body = (json.dumps(doc) + "\n").encode()
            kind = "application/json"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass  # quiet: nginx logs the requests


server = ThreadingHTTPServer(("0.0.0.0", PORT), Handler)
server.daemon_threads = True
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print("pyshop %s %s (%s) listening on %d" % (SERVICE, VERSION, SLOT, PORT), flush=True)
server.serve_forever()
