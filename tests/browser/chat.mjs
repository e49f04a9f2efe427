// Drives two Chromium tabs on the chat page over the Chrome DevTools Protocol.
// Usage: node --experimental-websocket chat.mjs DEVTOOLS_PORT CHAT_URL [SCREENSHOT_PNG]
// Uses only Node built-ins: fetch and WebSocket.
import { writeFileSync } from "node:fs";

const [devtoolsPort, chatUrl, screenshot] = process.argv.slice(2);
if (typeof WebSocket === "undefined") {
  console.error("Node's WebSocket is missing: run with --experimental-websocket (Node 20) or Node 22+");
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

// ---- a minimal CDP client: one browser connection, flat sessions ----
const version = await (await fetch(`http://127.0.0.1:${devtoolsPort}/json/version`)).json();
const cdp = new WebSocket(version.webSocketDebuggerUrl);
await new Promise((resolve, reject) => {
  cdp.onopen = resolve;
  cdp.onerror = () => reject(new Error("cannot reach the DevTools WebSocket"));
});
let nextId = 1;
const pending = new Map();
cdp.onmessage = (event) => {
  const msg = JSON.parse(event.data);
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

async function openTab(url) {
  const { targetId } = await send("Target.createTarget", { url });
  const { sessionId } = await send("Target.attachToTarget", { targetId, flatten: true });
  return { targetId, sessionId };
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
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what} (${expression} = ${JSON.stringify(value)})`);
}

// Real input: focus the field, insert the text as typed, press Enter to submit the form.
async function type(tab, id, text) {
  await evaluate(tab, `document.getElementById(${JSON.stringify(id)}).focus()`);
  await send("Input.insertText", { text }, tab.sessionId);
  for (const type of ["keyDown", "keyUp"]) {
    await send(
      "Input.dispatchKeyEvent",
      { type, key: "Enter", code: "Enter", windowsVirtualKeyCode: 13, text: type === "keyDown" ? "\r" : undefined },
      tab.sessionId,
    );
  }
}

const online = (n) => `document.getElementById("online").textContent === "${n} online"`;
const logHas = (text) =>
  `[...document.querySelectorAll("#log li .text")].some((e) => e.textContent === ${JSON.stringify(text)})`;

try {
  const a = await openTab(chatUrl);
  const b = await openTab(chatUrl);
  await waitFor(a, `document.getElementById("status").textContent === "connected"`, "tab A to connect");
  await waitFor(b, `document.getElementById("status").textContent === "connected"`, "tab B to connect");
  check(true, "both tabs loaded the page and opened the WebSocket");
  // Chromium offers `permessage-deflate; client_max_window_bits`; the chat example accepts it.
  const extensions = await evaluate(a, "ws.extensions");
  check(extensions.startsWith("permessage-deflate"), `permessage-deflate negotiated (${extensions})`);

  await type(a, "nick", "alice");
  await waitFor(a, online(1), "alice to be online");
  await type(b, "nick", "bob");
  await waitFor(b, online(2), "bob to see 2 online");
  await waitFor(a, online(2), "alice to see 2 online");
  check(await evaluate(a, logHas("bob joined (2 online)")), "alice sees bob's join notice with the count");

  // Markup in a message must be shown as text, not parsed.
  const hello = "hello <b>bob</b> & <img src=x onerror=alert(1)>";
  await type(a, "text", hello);
  await waitFor(b, logHas(hello), "bob to receive alice's message");
  check(true, "a message sent in tab A appears in tab B");
  check(
    await evaluate(b, `document.querySelectorAll("#log b, #log img").length === 0`),
    "user text is escaped (no elements created from it)",
  );
  // Long and repetitive: Chromium compresses it, and so does the server (over its 64-byte
  // threshold); a wrong bit anywhere would fail the connection instead.
  const long = "compress me, ".repeat(60) + "done";
  await type(a, "text", long);
  await waitFor(b, logHas(long), "bob to receive alice's long message");
  check(true, "a 784-byte message round-trips compressed in both directions");
  await type(b, "text", "hi alice");
  await waitFor(a, logHas("hi alice"), "alice to receive bob's reply");
  check(true, "a reply from tab B appears in tab A");

  // A third tab gets the history on joining.
  const c = await openTab(chatUrl);
  await waitFor(c, `document.getElementById("status").textContent === "connected"`, "tab C to connect");
  await type(c, "nick", "carol");
  await waitFor(c, logHas("hi alice"), "carol to receive the history");
  check(await evaluate(c, logHas(hello)), "a newcomer gets the recent messages");
  await waitFor(a, online(3), "alice to see 3 online");
  await send("Target.closeTarget", { targetId: c.targetId });

  await send("Target.closeTarget", { targetId: b.targetId });
  await waitFor(a, online(1), "alice to see bob and carol leave");
  check(await evaluate(a, logHas("bob left (1 online)") + " || " + logHas("bob left (2 online)")), "alice sees bob's leave notice");

  // Drop tab A's connection: the page reconnects with backoff and rejoins under its nickname.
  await evaluate(a, "ws.close(4000, 'test'); true");
  await waitFor(a, `document.getElementById("status").textContent.startsWith("offline")`, "tab A to notice the drop");
  await waitFor(a, `document.getElementById("status").textContent === "connected"`, "tab A to reconnect");
  await waitFor(a, `document.getElementById("me").textContent === "you are alice" && ${online(1)}`, "alice to rejoin");
  check(await evaluate(a, logHas("hi alice")), "the page reconnects, rejoins and gets the history again");

  if (screenshot) {
    const { data } = await send("Page.captureScreenshot", { format: "png" }, a.sessionId);
    writeFileSync(screenshot, Buffer.from(data, "base64"));
    console.log(`screenshot of tab A: ${screenshot}`);
  }
} catch (e) {
  check(false, e.message);
}
cdp.close();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
