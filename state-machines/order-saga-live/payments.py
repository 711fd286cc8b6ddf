"""The payment service of the live order saga, on 127.0.0.1 (a free port, printed first).

POST /payments {"orderId", "amount"}: 503 on the first try of an order, then 201
{"paymentId"}; POST /refunds {"paymentId"}: 200 {"refunded": true}. Both need the header
x-api-key: demo-key (the connection in connections.json).
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

tries = {}


class Payments(BaseHTTPRequestHandler):
    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        if self.headers.get("x-api-key") != "demo-key":
            return self.answer(401, {"message": "bad key"})
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.path == "/payments":
            order = body.get("orderId", "")
            tries[order] = tries.get(order, 0) + 1
            if tries[order] == 1:
                return self.answer(503, {"message": "busy, try again"})
            return self.answer(201, {"paymentId": "pay-" + order, "amount": body.get("amount")})
        if self.path == "/refunds":
            return self.answer(200, {"refunded": True, "paymentId": body.get("paymentId")})
        return self.answer(404, {"message": "no such path"})

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Payments)
print(server.server_address[1], flush=True)
sys.stdout.close()
server.serve_forever()
