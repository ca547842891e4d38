// WebSocket over HTTP/2 (RFC 8441) with Node's own HTTP/2 client.
// Usage: node ws_over_h2.js PORT TEXT
// Opens an extended CONNECT stream once the server allows it, sends TEXT as one
// masked text frame, reads the first frame back and prints a JSON summary.
"use strict";
const http2 = require("node:http2");

const port = Number(process.argv[2]);
const text = Buffer.from(process.argv[3], "utf8");

function textFrame(payload) {
  if (payload.length > 125) throw new Error("keep it short");
  const mask = Buffer.from([1, 2, 3, 4]);
  const masked = Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]));
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]);
}

const client = http2.connect(`http://127.0.0.1:${port}`);
const timer = setTimeout(() => { console.log(JSON.stringify({ error: "timeout" })); process.exit(1); }, 20000);
client.on("error", (err) => { console.log(JSON.stringify({ error: String(err) })); process.exit(1); });
client.on("remoteSettings", (settings) => {
  if (!settings.enableConnectProtocol) {
    console.log(JSON.stringify({ error: "no SETTINGS_ENABLE_CONNECT_PROTOCOL" }));
    process.exit(1);
  }
  const stream = client.request({
    ":method": "CONNECT",
    ":protocol": "websocket",
    ":scheme": "http",
    ":path": "/",
    ":authority": `localhost:${port}`,
    "sec-websocket-version": "13",
  }, { endStream: false });
  let status = 0;
  let received = Buffer.alloc(0);
  stream.on("response", (headers) => {
    status = headers[":status"];
    stream.write(textFrame(text));
  });
  stream.on("data", (chunk) => {
    received = Buffer.concat([received, chunk]);
    if (received.length >= 2 && received.length >= 2 + (received[1] & 0x7f)) {
      const length = received[1] & 0x7f;
      const echoed = received.subarray(2, 2 + length).toString("utf8");
      console.log(JSON.stringify({ status, opcode: received[0] & 0x0f, text: echoed }));
      clearTimeout(timer);
      stream.close();
      client.close();
    }
  });
});
