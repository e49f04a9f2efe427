// The axum echo example from Node's own WebSocket and from headless Chromium (over the Chrome
// DevTools Protocol): each echoes CJK and emoji text and reports permessage-deflate.
// Usage: node --experimental-websocket interop.mjs node WS_URL
//        node --experimental-websocket interop.mjs chromium WS_URL DEVTOOLS_PORT
const [mode, wsUrl, devtoolsPort] = process.argv.slice(2);
const text = "聊天 🎉 чат ".repeat(50);

function echoOnce(url, text) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const timer = setTimeout(() => reject(new Error("no echo within 10 s")), 10000);
    ws.onopen = () => ws.send(text);
    ws.onmessage = (e) => {
      clearTimeout(timer);
      resolve({ same: e.data === text, extensions: ws.extensions });
      ws.close(1000, "done");
    };
    ws.onerror = () => reject(new Error("WebSocket error"));
  });
}

let result;
if (mode === "node") {
  result = await echoOnce(wsUrl, text);
} else {
  // A minimal CDP client: one tab, one evaluation that runs the same echo in the page.
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
    if (msg.error) waiter.reject(new Error(msg.error.message));
    else waiter.resolve(msg.result);
  };
  const send = (method, params = {}, sessionId) => {
    const id = nextId++;
    cdp.send(JSON.stringify({ id, method, params, sessionId }));
    return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
  };
  const { targetId } = await send("Target.createTarget", { url: "about:blank" });
  const { sessionId } = await send("Target.attachToTarget", { targetId, flatten: true });
  const expression = `(${echoOnce})(${JSON.stringify(wsUrl)}, ${JSON.stringify(text)})`;
  const evaluated = await send(
    "Runtime.evaluate",
    { expression, returnByValue: true, awaitPromise: true },
    sessionId,
  );
  if (evaluated.exceptionDetails) throw new Error(`page: ${evaluated.exceptionDetails.text}`);
  result = evaluated.result.value;
  cdp.close();
}
console.log(`${mode}: echo ${result.same ? "ok" : "WRONG"}, extensions: ${result.extensions}`);
process.exit(result.same && result.extensions.startsWith("permessage-deflate") ? 0 : 1);
