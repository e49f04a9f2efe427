// Drives one headless Chromium tab on the h2_chat page over the Chrome DevTools Protocol, and
// checks from Chromium's own Network events which HTTP version the page and its WebSocket used.
// Usage: node --experimental-websocket h2.mjs DEVTOOLS_PORT PAGE_URL EXPECT [SCREENSHOT_PNG]
// EXPECT: "h2" (the WebSocket is an RFC 8441 stream of the page's HTTP/2 connection: 200) or
// "http/1.1" (an HTTP/1.1 upgrade: 101). Uses only Node built-ins: fetch and WebSocket.
// With DUMP=1 it prints the Network events it saw about the page and the socket.
import { writeFileSync } from "node:fs";

const [devtoolsPort, pageUrl, expect, screenshot] = process.argv.slice(2);
if (typeof WebSocket === "undefined") {
  console.error("Node's WebSocket is missing: run with --experimental-websocket (Node 20) or Node 22+");
  process.exit(2);
}
if (expect !== "h2" && expect !== "http/1.1") {
  console.error(`EXPECT must be h2 or http/1.1, not ${expect}`);
  process.exit(2);
}

let passed = 0;
let failed = 0;
function check(ok, what) {
  if (ok) {
    passed++;
    console.log(`ok - ${what}`);
  } else {
    failed++;
    console.log(`FAILED - ${what}`);
  }
}

// ---- a minimal CDP client: one browser connection, flat sessions, events recorded ----
const version = await (await fetch(`http://127.0.0.1:${devtoolsPort}/json/version`)).json();
const cdp = new WebSocket(version.webSocketDebuggerUrl);
await new Promise((resolve, reject) => {
  cdp.onopen = resolve;
  cdp.onerror = () => reject(new Error("cannot reach the DevTools WebSocket"));
});
let nextId = 1;
const pending = new Map();
const events = [];
cdp.onmessage = (event) => {
  const msg = JSON.parse(event.data);
  if (msg.method) {
    events.push(msg);
    return;
  }
  const waiter = msg.id && pending.get(msg.id);
  if (!waiter) return;
  pending.delete(msg.id);
  if (msg.error) waiter.reject(new Error(`${waiter.method}: ${msg.error.message}`));
  else waiter.resolve(msg.result);
};
function send(method, params = {}, sessionId) {
  const id = nextId++;
  cdp.send(JSON.stringify({ id, method, params, sessionId }));
  return new Promise((resolve, reject) => pending.set(id, { resolve, reject, method }));
}

async function evaluate(tab, expression) {
  const result = await send(
    "Runtime.evaluate",
    { expression, returnByValue: true, awaitPromise: true },
    tab.sessionId,
  );
  if (result.exceptionDetails) throw new Error(`page threw: ${result.exceptionDetails.text}`);
  return result.result.value;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(tab, expression, what, ms = 15000) {
  const deadline = Date.now() + ms;
  let value;
  while (Date.now() < deadline) {
    try {
      value = await evaluate(tab, expression);
    } catch (e) {
      value = undefined; // the page may still be loading
    }
    if (value) return value;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what} (${expression} = ${JSON.stringify(value)})`);
}

async function waitEvent(predicate, what, ms = 15000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const found = events.find(predicate);
    if (found) return found;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

// Real input: focus the field, insert the text as typed, press Enter to submit the form.
async function type(tab, id, text) {
  await evaluate(tab, `document.getElementById(${JSON.stringify(id)}).select()`);
  await send("Input.insertText", { text }, tab.sessionId);
  for (const type of ["keyDown", "keyUp"]) {
    await send(
      "Input.dispatchKeyEvent",
      { type, key: "Enter", code: "Enter", windowsVirtualKeyCode: 13, text: type === "keyDown" ? "\r" : undefined },
      tab.sessionId,
    );
  }
}

const logHas = (name, text) =>
  `[...document.querySelectorAll("#log li")].some((li) => li.querySelector(".name").textContent === ${JSON.stringify(name)} && li.querySelector(".text").textContent === ${JSON.stringify(text)})`;

try {
  // Network is enabled before the page loads, so that every event about it is seen.
  const { targetId } = await send("Target.createTarget", { url: "about:blank" });
  const { sessionId } = await send("Target.attachToTarget", { targetId, flatten: true });
  const tab = { targetId, sessionId };
  await send("Network.enable", {}, sessionId);
  await send("Page.enable", {}, sessionId);
  await send("Page.navigate", { url: pageUrl }, sessionId);
  const mine = (method) => (e) => e.sessionId === sessionId && e.method === method;

  await waitFor(tab, `document.getElementById("status").textContent === "connected"`, "the WebSocket to open");
  check(true, "the page loaded and opened its WebSocket");

  // The page's own response: Chromium names the protocol it was fetched over.
  const page = await waitEvent(
    (e) => mine("Network.responseReceived")(e) && e.params.type === "Document",
    "the page's Network.responseReceived",
  );
  check(page.params.response.protocol === expect, `the page came over ${expect} (response.protocol = ${page.params.response.protocol})`);
  check(
    (await evaluate(tab, `document.getElementById("proto").textContent`)) === expect,
    `the page reports nextHopProtocol ${expect}`,
  );

  // The WebSocket's handshake as Chromium reports it.
  const created = await waitEvent(mine("Network.webSocketCreated"), "Network.webSocketCreated");
  const socketId = created.params.requestId;
  const ofSocket = (method) => (e) => mine(method)(e) && e.params.requestId === socketId;
  const request = await waitEvent(ofSocket("Network.webSocketWillSendHandshakeRequest"), "webSocketWillSendHandshakeRequest");
  const response = await waitEvent(ofSocket("Network.webSocketHandshakeResponseReceived"), "webSocketHandshakeResponseReceived");
  const lower = (headers) => Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  const reqHeaders = lower(request.params.request.headers);
  const resHeaders = lower(response.params.response.headers);
  if (process.env.DUMP) {
    console.log(JSON.stringify({ page: page.params.response.protocol, created: created.params, request: request.params, response: response.params }, null, 2));
  }
  check(created.params.url === new URL("/ws", pageUrl).href.replace(/^https:/, "wss:"), `webSocketCreated for ${created.params.url}`);
  const r = response.params.response;
  if (expect === "h2") {
    // RFC 8441: an extended CONNECT on the HTTP/2 connection, answered 200 with no
    // Sec-WebSocket-Accept (there is no key to answer) and no reason phrase (HTTP/2 has none).
    // Chromium 156 still shows the request in its HTTP/1.1 form (a "GET wss://... HTTP/1.1"
    // headersText with Upgrade and Connection, and "HTTP/1.1 200" for the response), so those
    // prove nothing either way; the status, the missing key and accept, and the page's h2 do.
    check(r.status === 200, `the handshake response is 200, as RFC 8441 answers (status = ${r.status})`);
    check(r.statusText === "", `no reason phrase, as over HTTP/2 (statusText = ${JSON.stringify(r.statusText)})`);
    check(!("sec-websocket-accept" in resHeaders), "no Sec-WebSocket-Accept in the response");
    check(!("sec-websocket-key" in reqHeaders), "no Sec-WebSocket-Key in the request");
  } else {
    check(r.status === 101, `the handshake response is 101 Switching Protocols (status = ${r.status})`);
    check(typeof reqHeaders["sec-websocket-key"] === "string", "the request has Sec-WebSocket-Key");
    check(typeof resHeaders["sec-websocket-accept"] === "string", "the response has Sec-WebSocket-Accept");
    check((reqHeaders["upgrade"] || "").toLowerCase() === "websocket", "the request has Upgrade: websocket");
  }
  check(
    (resHeaders["sec-websocket-extensions"] || "").startsWith("permessage-deflate"),
    `the handshake response agrees permessage-deflate (${resHeaders["sec-websocket-extensions"]})`,
  );

  const extensions = await evaluate(tab, "ws.extensions");
  check(extensions.startsWith("permessage-deflate"), `ws.extensions is permessage-deflate (${extensions})`);

  // Multi-byte UTF-8 both ways: CJK, kana, an emoji outside the BMP, and markup shown as text.
  const name = "测试者🙂";
  const text = "你好，世界 こんにちは 🌏🎉 <b>not bold</b> & ünïcödé";
  await type(tab, "name", name);
  await type(tab, "text", text);
  await waitFor(tab, logHas(name, text), "the message to come back into the page");
  check(true, "a CJK + emoji message went out and came back into the page");
  check(
    await evaluate(tab, `document.querySelectorAll("#log b").length === 0`),
    "the text is shown as text (no element created from it)",
  );
  const sent = JSON.stringify({ name, text });
  const frame = await waitEvent(
    (e) => ofSocket("Network.webSocketFrameReceived")(e) && e.params.response.payloadData === sent,
    "Network.webSocketFrameReceived with the message",
  );
  check(frame.params.response.opcode === 1, "Chromium received it as one text frame with the same bytes");
  // A longer, repetitive one: compressed both ways.
  const long = "压缩我 🌀 ".repeat(100) + "完";
  await type(tab, "text", long);
  await waitFor(tab, logHas(name, long), "the long message to come back");
  check(true, `a ${Buffer.byteLength(long)}-byte multi-byte message round-trips (compressed)`);
  check(
    (await evaluate(tab, `document.getElementById("ext").textContent`)).startsWith("permessage-deflate"),
    "the page shows the extension",
  );

  if (screenshot) {
    // Taken while connected, before the close below.
    const { data } = await send("Page.captureScreenshot", { format: "png" }, sessionId);
    writeFileSync(screenshot, Buffer.from(data, "base64"));
    console.log(`screenshot: ${screenshot}`);
  }
  // A clean close handshake over the same transport.
  await evaluate(tab, "ws.close(1000, 'done'); true");
  await waitFor(tab, `document.getElementById("status").textContent === "closed (1000)"`, "the close handshake");
  check(true, "the page closed the WebSocket cleanly (1000)");
  await send("Target.closeTarget", { targetId });
} catch (e) {
  check(false, e.message);
}
cdp.close();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
