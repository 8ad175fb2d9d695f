# A service behind nginx for tests/tests/mint_nginx.rs: reads the token Warden
# minted with PyJWT (Debian's python3-jwt and python3-cryptography, run by
# /usr/bin/python3), as a service in another language would.
#
#   /usr/bin/python3 -I verify_jwt.py PORT JWKS_URL ISSUER AUDIENCE
#
# Listens on 127.0.0.1:PORT. Every request but `GET /_hits` must carry exactly
# one `Authorization: Bearer <jwt>`; the token's key is found by `kid` in the key
# set at JWKS_URL (PyJWKClient), and jwt.decode_complete checks the ES256
# signature, `iss`, `aud`, `exp` and `iat`, and that the registered claims are
# there; the header's `typ` must be `at+jwt` (RFC 9068). Answers 200 with
# {"header", "claims", "authorization_headers"} (the verified header and
# claims, and how many `Authorization` headers arrived), or 401 with
# {"error": the PyJWT exception's name, "detail": its message}.
# `GET /_hits` answers how many requests were judged (for the test, not proxied).
#
# It exits when its stdin closes (the test's end) or on SIGTERM, so it never
# outlives the test.

import json
import os
import signal
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt

if len(sys.argv) != 5 or not sys.argv[1].isdigit():
    print("usage: verify_jwt.py PORT JWKS_URL ISSUER AUDIENCE", file=sys.stderr)
    sys.exit(2)
PORT = int(sys.argv[1])
JWKS_URL, ISSUER, AUDIENCE = sys.argv[2:5]

# Loopback only: no proxy from the environment, whatever it says.
urllib.request.install_opener(urllib.request.build_opener(urllib.request.ProxyHandler({})))
# A fresh key set at every unknown `kid`; cached otherwise, as a service would.
KEYS = jwt.PyJWKClient(JWKS_URL)
REQUIRED = ["iss", "aud", "exp", "iat", "sub", "jti"]

hits = 0
hits_lock = threading.Lock()


class TokenError(Exception):
    """A request that is not one bearer token."""


def verify(authorization):
    if len(authorization) != 1:
        raise TokenError(f"{len(authorization)} Authorization headers, not one")
    scheme, _, token = authorization[0].partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise TokenError("not a Bearer token")
    key = KEYS.get_signing_key_from_jwt(token)
    verified = jwt.api_jwt.decode_complete(
        token,
        key.key,
        algorithms=["ES256"],
        audience=AUDIENCE,
        issuer=ISSUER,
        options={"require": REQUIRED},
    )
    # The header is covered by the signature: checked only now that it verified.
    if verified["header"].get("typ") != "at+jwt":
        raise jwt.InvalidTokenError(f"typ is {verified['header'].get('typ')!r}, not 'at+jwt'")
    return verified


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        global hits
        if self.path == "/_hits":
            with hits_lock:
                self.answer(200, {"hits": hits})
            return
        with hits_lock:
            hits += 1
        authorization = self.headers.get_all("authorization") or []
        try:
            verified = verify(authorization)
        except (jwt.PyJWTError, TokenError) as e:
            self.answer(401, {"error": type(e).__name__, "detail": str(e)})
            return
        self.answer(
            200,
            {
                "header": verified["header"],
                "claims": verified["payload"],
                "authorization_headers": len(authorization),
            },
        )

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    def log_message(self, format, *args):
        pass


def stop_when_stdin_closes():
    sys.stdin.buffer.read()
    os._exit(0)


signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
threading.Thread(target=stop_when_stdin_closes, daemon=True).start()
print(f"verify_jwt listening on 127.0.0.1:{PORT}", flush=True)
server.serve_forever()
