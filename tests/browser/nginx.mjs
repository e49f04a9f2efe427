// Two Chromium tabs chat through nginx over wss:// (TLS ends at nginx, which proxies to the
// chat on a Unix socket). Usage: node --experimental-websocket nginx.mjs DEVTOOLS_PORT URL [SHOT]
import { writeFileSync } from "node:fs";
import { Browser, Checks } from "./cdp.mjs";

const [port, url, shot] = process.argv.slice(2);
const t = new Checks();
const browser = await Browser.connect(port);
const logHas = (text) =>
  `[...document.querySelectorAll("#log li .text")].some((e) => e.textContent === ${JSON.stringify(text)})`;
const open = `window.ws && window.ws.readyState === WebSocket.OPEN`;
try {
  const a = await browser.open(url);
  const b = await browser.open(url);
  await a.waitFor(open, "tab A's socket to open");
  await b.waitFor(open, "tab B's socket to open");
  t.check((await a.eval("location.protocol")) === "https:", "the page came over https from nginx");
  const socketUrl = await a.eval("window.ws.url");
  t.check(socketUrl.startsWith("wss://"), `the WebSocket is wss:// (${socketUrl})`);
  const extensions = await a.eval("window.ws.extensions");
  t.check(extensions.startsWith("permessage-deflate"), `permessage-deflate negotiated through nginx (${extensions})`);
  await a.type("name", "alice");
  await b.type("name", "bob");
  const online = (n) => `[...document.querySelectorAll("#online li")].some((e) => e.textContent.includes(${JSON.stringify(n)}))`;
  await a.waitFor(online("bob"), "alice to see bob online");
  await b.waitFor(online("alice"), "bob to see alice online");
  t.check(true, "both names online through the proxy");
  // Long and repetitive, so both directions compress it; a wrong bit would fail the socket.
  const text = "经过 nginx 的消息 🔒 ".repeat(40) + "end";
  await a.type("text", text);
  await b.waitFor(logHas(text), "bob to receive alice's message");
  t.check(true, "a 1.3 KB CJK and emoji message crossed nginx both ways compressed");
  await b.type("text", "reply via nginx");
  await a.waitFor(logHas("reply via nginx"), "alice to receive bob's reply");
  t.check(true, "bob's reply reached alice");
  if (shot) {
    writeFileSync(shot, await a.screenshot());
    console.log(`screenshot: ${shot}`);
  }
} catch (e) {
  t.check(false, e.message);
}
browser.close();
process.exit(t.finish());
