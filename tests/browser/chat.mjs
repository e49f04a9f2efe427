// Drives headless Chromium tabs on the chat page over the Chrome DevTools Protocol, and starts,
// stops and restarts the chat server itself. In order: two tabs and permessage-deflate; the
// lobby's names before choosing one; alice and bob join; CJK, emoji and markup shown as text,
// own messages marked; an error from the server inline; a DM both ways; a late joiner's history;
// a room of bob's own; a restart (SIGTERM, status 0, close 1001 shown, reconnect, 544 messages
// missed and fetched from GET /history, nothing doubled or lost); screenshots at desktop and
// phone width (SCREENSHOT_DIR); tokens (?token=, a refused one, one typed in).
// Usage: node --experimental-websocket chat.mjs DEVTOOLS_PORT CHAT_BINARY DB_PATH SCREENSHOT_DIR
// Env: TIMEOUT (seconds for the whole run, default 180), SERVER_PIDFILE (where to write the
// server's pid, so that run.sh can stop it should this script be killed).
// Uses only Node built-ins: fetch, WebSocket, child_process.
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [devtoolsPort, chatBinary, dbPath, shotDir] = process.argv.slice(2);
if (!devtoolsPort || !chatBinary || !dbPath || !shotDir) {
  console.error("usage: chat.mjs DEVTOOLS_PORT CHAT_BINARY DB_PATH SCREENSHOT_DIR");
  process.exit(2);
}
if (typeof WebSocket === "undefined") {
  console.error("Node's WebSocket is missing: run with --experimental-websocket (Node 20) or Node 22+");
  process.exit(2);
}
const TIMEOUT = Number(process.env.TIMEOUT || 180);
const WAIT = 15000; // the longest any single wait may take

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
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- the chat server: spawned here, so that it can be restarted on the same port ----
let server = null; // { child, exited: Promise<{code, signal}>, log: string[] }
const serverLog = [];

async function startServer(addr, extra = []) {
  const child = spawn(chatBinary, [addr, "--db", dbPath, ...extra], { stdio: ["ignore", "ignore", "pipe"] });
  if (process.env.SERVER_PIDFILE && child.pid) writeFileSync(process.env.SERVER_PIDFILE, String(child.pid));
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  child.on("error", () => {}); // a spawn failure also ends in "exit" or in the timeout below
  let text = "";
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server printed no address in ${WAIT} ms`)), WAIT);
    child.stderr.setEncoding("utf8");
    let partial = "";
    child.stderr.on("data", (chunk) => {
      text += chunk;
      const lines = (partial + chunk).split("\n");
      partial = lines.pop();
      serverLog.push(...lines.filter((l) => l));
      const m = text.match(/chat listening on (http:\/\/127\.0\.0\.1:\d+\/)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${code ?? signal}) before listening: ${text.trim()}`));
    });
  });
  server = { child, exited };
  return url;
}

// SIGTERM, then the exit status (bounded).
async function stopServer() {
  if (!server) return null;
  const { child, exited } = server;
  server = null;
  child.kill("SIGTERM");
  const status = await Promise.race([exited, sleep(WAIT).then(() => null)]);
  if (status === null) {
    child.kill("SIGKILL");
    await Promise.race([exited, sleep(2000)]);
  }
  return status;
}

// ---- the end: whatever happens, the server is stopped and the counts printed ----
let finishing = false;
async function finish(extraFailure) {
  if (finishing) return;
  finishing = true;
  if (extraFailure) check(false, extraFailure);
  if (server) await stopServer();
  try {
    cdp?.close();
  } catch {}
  if (failed > 0 && serverLog.length > 0) {
    console.log("--- chat server log (last 20 lines)");
    for (const line of serverLog.slice(-20)) console.log(`  ${line}`);
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}
const hardTimer = setTimeout(() => finish(`the whole run took over ${TIMEOUT} s`), TIMEOUT * 1000);
hardTimer.unref();
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => finish(`stopped by ${sig}`));

// ---- a minimal CDP client: one browser connection, flat sessions ----
let cdp = null;
let nextId = 1;
const pending = new Map();
function send(method, params = {}, sessionId) {
  const id = nextId++;
  cdp.send(JSON.stringify({ id, method, params, sessionId }));
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject, method });
    setTimeout(() => {
      if (pending.delete(id)) reject(new Error(`${method}: no answer in ${WAIT} ms`));
    }, WAIT).unref();
  });
}

async function connectDevtools() {
  const version = await (await fetch(`http://127.0.0.1:${devtoolsPort}/json/version`)).json();
  cdp = new WebSocket(version.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    cdp.onopen = resolve;
    cdp.onerror = () => reject(new Error("cannot reach the DevTools WebSocket"));
  });
  cdp.onmessage = (event) => {
    const msg = JSON.parse(event.data);
    const waiter = msg.id && pending.get(msg.id);
    if (!waiter) return;
    pending.delete(msg.id);
    if (msg.error) waiter.reject(new Error(`${waiter.method}: ${msg.error.message}`));
    else waiter.resolve(msg.result);
  };
}

async function openTab(url, name) {
  const { targetId } = await send("Target.createTarget", { url: "about:blank" });
  const { sessionId } = await send("Target.attachToTarget", { targetId, flatten: true });
  const tab = { targetId, sessionId, name };
  await desktop(tab);
  await send("Page.navigate", { url }, sessionId);
  return tab;
}

const desktop = (tab) =>
  send("Emulation.setDeviceMetricsOverride", { width: 1280, height: 800, deviceScaleFactor: 1, mobile: false }, tab.sessionId);
const phone = (tab) =>
  send("Emulation.setDeviceMetricsOverride", { width: 375, height: 740, deviceScaleFactor: 2, mobile: true }, tab.sessionId);

async function evaluate(tab, expression) {
  const result = await send(
    "Runtime.evaluate",
    { expression, returnByValue: true, awaitPromise: true },
    tab.sessionId,
  );
  if (result.exceptionDetails) {
    const e = result.exceptionDetails;
    throw new Error(`page threw: ${e.exception?.description ?? e.text}`);
  }
  return result.result.value;
}

async function waitFor(tab, expression, what, ms = WAIT) {
  const deadline = Date.now() + ms;
  let value;
  let error = "";
  while (Date.now() < deadline) {
    try {
      value = await evaluate(tab, expression);
      error = "";
    } catch (e) {
      value = undefined; // the page may still be loading
      error = ` (${e.message})`;
    }
    if (value) return value;
    await sleep(100);
  }
  let status = "";
  try {
    status = await evaluate(tab, `document.getElementById("status").textContent`);
  } catch {}
  // What the page knows: its closes, its rooms (messages, newest id, complete up to) and errors.
  let state = "";
  try {
    state = JSON.stringify(await evaluate(tab, `({
      closes: window.chat.closes.slice(-3),
      joined: window.chat.joined,
      rooms: Object.fromEntries([...window.chat.rooms.values()].map((r) => [r.name, [r.messages.size, r.lastId, r.synced, r.fetching]])),
      errors: [...document.querySelectorAll("#log li.error")].slice(-3).map((li) => li.textContent),
    })`));
  } catch {}
  throw new Error(
    `tab ${tab.name}: timed out after ${ms} ms waiting for ${what} (got ${JSON.stringify(value)}${error}; status: ${JSON.stringify(status)}; page: ${state})`,
  );
}

// Real input: the text as typed into the focused field, then Enter (which submits its form).
async function typeHere(tab, text) {
  await send("Input.insertText", { text }, tab.sessionId);
  for (const type of ["keyDown", "keyUp"]) {
    await send(
      "Input.dispatchKeyEvent",
      { type, key: "Enter", code: "Enter", windowsVirtualKeyCode: 13, text: type === "keyDown" ? "\r" : undefined },
      tab.sessionId,
    );
  }
}

// Focuses the field, empties it, types the text and presses Enter.
async function type(tab, id, text) {
  await evaluate(tab, `(() => { const e = document.getElementById(${JSON.stringify(id)}); e.focus(); e.value = ""; return true; })()`);
  await typeHere(tab, text);
}

async function screenshot(tab, file) {
  await send("Target.activateTarget", { targetId: tab.targetId });
  const { data } = await send("Page.captureScreenshot", { format: "png" }, tab.sessionId);
  const path = join(shotDir, file);
  writeFileSync(path, Buffer.from(data, "base64"));
  console.log(`# screenshot: ${path}`);
}

// ---- expressions evaluated in the page ----
const js = JSON.stringify;
const status = `document.getElementById("status").textContent`;
const connected = `${status} === "connected"`;
const onlineNames = `[...document.querySelectorAll("#online li[data-name]")].map((li) => li.dataset.name)`;
const onlineHas = (...names) => `((n) => ${js(names)}.every((x) => n.includes(x)))(${onlineNames})`;
const onlineLacks = (name) => `!${onlineNames}.includes(${js(name)})`;
const msgLi = (text) =>
  `[...document.querySelectorAll("#log li.message")].find((li) => li.querySelector(".text")?.textContent === ${js(text)})`;
const logHas = (text) => `!!${msgLi(text)}`;
const ids = `[...document.querySelectorAll("#log li[data-id]")].map((li) => Number(li.dataset.id))`;
const joinedRoom = (room) => `window.chat.joined === ${js(room)}`;

// The messages of a room as the server stores them, 500 per GET /history.
async function serverHistory(base, room) {
  const all = [];
  let after = 0;
  for (let i = 0; i < 100; i++) {
    const res = await fetch(`${base}history?room=${encodeURIComponent(room)}&after=${after}`);
    if (!res.ok) throw new Error(`GET /history: HTTP ${res.status}`);
    const body = await res.json();
    all.push(...body.messages);
    if (body.messages.length < 500) break;
    after = body.messages.at(-1).id;
  }
  return all;
}

// A chat client in Node (no browser): joins a room, says each of `texts`, waits for them to come
// back, closes; their ids.
async function bot(base, room, name, texts) {
  const ws = new WebSocket(base.replace(/^http/, "ws") + "chat");
  const seen = [];
  let welcomed;
  let joined;
  const welcome = new Promise((r) => (welcomed = r));
  const history = new Promise((r) => (joined = r));
  let allSeen;
  const done = new Promise((r) => (allSeen = r));
  ws.onmessage = (event) => {
    const msg = JSON.parse(event.data);
    if (msg.type === "welcome") welcomed();
    if (msg.type === "history" && msg.data.room === room) joined();
    if (msg.type === "message" && msg.data.from === name) {
      seen.push(msg.data.id);
      if (seen.length === texts.length) allSeen();
    }
  };
  const bounded = (p, what) => Promise.race([p, sleep(WAIT).then(() => Promise.reject(new Error(`bot ${name}: ${what}`)))]);
  await bounded(welcome, "no welcome");
  ws.send(JSON.stringify({ type: "join", data: { room, name } }));
  await bounded(history, "no history on joining");
  for (const text of texts) ws.send(JSON.stringify({ type: "message", data: { room, text } }));
  await bounded(done, `saw ${seen.length} of its ${texts.length} messages`);
  ws.close(1000);
  return seen;
}

const noDuplicates = (list) => new Set(list).size === list.length;
const ascending = (list) => list.every((v, i) => i === 0 || list[i - 1] < v);

try {
  mkdirSync(shotDir, { recursive: true });
  await connectDevtools();
  const base = await startServer("127.0.0.1:0");
  const port = new URL(base).port;
  console.log(`# chat server at ${base} (db ${dbPath})`);

  // 1. Two tabs load the page; the WebSocket negotiates permessage-deflate.
  const a = await openTab(base, "A");
  const b = await openTab(base, "B");
  await waitFor(a, connected, "tab A to connect");
  await waitFor(b, connected, "tab B to connect");
  check(true, "tabs A and B loaded the page and opened the WebSocket");
  const extensions = await evaluate(a, "window.ws.extensions");
  check(extensions.startsWith("permessage-deflate"), `permessage-deflate negotiated (${js(extensions)})`);

  // 2. Before choosing a name, tab B already shows who is in the lobby.
  check(await evaluate(b, `!document.getElementById("join-form").hidden && window.chat.name === null`),
    "tab B shows the name form before a name is chosen");
  await type(a, "name", "alice");
  await waitFor(a, `${joinedRoom("lobby")} && document.getElementById("me").textContent === "you are alice"`, "alice to join");
  await waitFor(b, onlineHas("alice"), "alice in tab B's online list before B chose a name");
  check(await evaluate(b, `window.chat.name === null && !document.getElementById("join-form").hidden`),
    "tab B shows alice online in the lobby before choosing a name");
  await screenshot(b, "chat-b-before-name.png");

  // 3. Bob joins; both lists show both.
  await type(b, "name", "bob");
  await waitFor(b, `${joinedRoom("lobby")} && document.getElementById("me").textContent === "you are bob"`, "bob to join");
  await waitFor(a, onlineHas("alice", "bob"), "alice to see bob online");
  await waitFor(b, onlineHas("alice", "bob"), "bob to see alice and himself online");
  check(true, "alice and bob joined the lobby; both online lists show both names");
  check(await evaluate(b, `document.getElementById("join-form").hidden && !document.getElementById("send-form").hidden`),
    "the name form gives way to the message form");

  // 4. Non-ASCII text and markup: shown as text, never parsed.
  const hello = "你好 bob, こんにちは 🎉👋🏽 <img src=x onerror=alert(1)> & <b>bold</b>";
  await type(a, "text", hello);
  await waitFor(b, logHas(hello), "bob to receive alice's message");
  await waitFor(a, logHas(hello), "alice to see her own message");
  check(true, "a message with CJK, emoji and markup sent in tab A appears in tab B, as text");
  check(await evaluate(b, `document.querySelectorAll("#log img, #log b, #log script").length === 0`) &&
    await evaluate(a, `document.querySelectorAll("#log img, #log b, #log script").length === 0`),
    "no element is created from user text (no img, no b)");
  const ownA = await evaluate(a, `${msgLi(hello)}.classList.contains("own")`);
  const ownB = await evaluate(b, `${msgLi(hello)}.classList.contains("own")`);
  check(ownA && !ownB, `alice's copy is marked own, bob's is not (A: ${ownA}, B: ${ownB})`);
  const shown = await evaluate(b, `(() => { const li = ${msgLi(hello)}; return [li.querySelector(".time").textContent, li.querySelector(".from").textContent, li.dataset.id]; })()`);
  check(/^\d\d:\d\d$/.test(shown[0]) && shown[1] === "alice" && /^\d+$/.test(shown[2]),
    `a message shows HH:MM, the name and has a data-id (${js(shown)})`);
  const long = "compress me, ".repeat(60) + "done";
  await type(b, "text", long);
  await waitFor(a, logHas(long), "alice to receive bob's long message");
  check(true, "a 784-byte message round-trips (compressed both ways)");
  // A refused message: the server's error is shown inline and the connection stays open.
  await evaluate(a, `window.ws.send(JSON.stringify({ type: "message", data: { room: "lobby", text: "   " } })); true`);
  await waitFor(a, `document.querySelectorAll("#log li.error").length > 0`, "the server's error in tab A");
  const errorText = await evaluate(a, `[...document.querySelectorAll("#log li.error")].at(-1).textContent`);
  await sleep(300);
  check(await evaluate(a, `window.ws.readyState === WebSocket.OPEN && ${connected}`),
    `an error from the server is shown inline (${js(errorText)}) and the connection stays open`);

  // 5. A direct message: bob clicks alice's name and writes.
  await evaluate(b, `document.querySelector('#online li[data-name="alice"]').click(); true`);
  const dmReady = await evaluate(b, `document.getElementById("dm-to").value === "alice" && document.activeElement.id === "dm-text"`);
  check(dmReady, "clicking a name in the online list prepares a DM to it");
  const psst = "psst, alice: a secret 🤫";
  await typeHere(b, psst);
  const dmLi = (text) => `[...document.querySelectorAll("#log li.dm")].find((li) => li.querySelector(".text")?.textContent === ${js(text)})`;
  await waitFor(a, `!!${dmLi(psst)}`, "alice to receive bob's DM");
  await waitFor(b, `!!${dmLi(psst)}`, "bob to see his copy of the DM");
  const dmA = await evaluate(a, `(() => { const li = ${dmLi(psst)}; return [li.querySelector(".marker")?.textContent, li.querySelector(".from").textContent, li.classList.contains("own")]; })()`);
  const dmB = await evaluate(b, `(() => { const li = ${dmLi(psst)}; return [li.querySelector(".marker")?.textContent, li.querySelector(".to").textContent, li.classList.contains("own")]; })()`);
  check(dmA[0] === "DM" && dmA[1] === "bob" && !dmA[2], `alice sees the DM from bob with the DM marker (${js(dmA)})`);
  check(dmB[0] === "DM" && dmB[1].includes("alice") && dmB[2], `bob sees his own copy of the DM to alice (${js(dmB)})`);
  const reply = "thanks bob";
  await type(a, "text", reply);
  await waitFor(b, logHas(reply), "bob to receive alice's reply");

  // 6. A late joiner gets the history; the others see her arrive.
  const c = await openTab(base, "C");
  await waitFor(c, connected, "tab C to connect");
  await waitFor(c, onlineHas("alice", "bob"), "tab C to list alice and bob before choosing a name");
  await waitFor(c, `${logHas(hello)} && ${logHas(reply)}`, "tab C to show the lobby's conversation before choosing a name");
  check(await evaluate(c, `window.chat.name === null`), "before choosing a name, tab C shows who is online and what was said");
  await type(c, "name", "carol");
  await waitFor(c, `${joinedRoom("lobby")} && ${logHas(reply)}`, "carol to receive the history");
  check(await evaluate(c, `${logHas(hello)} && ${logHas(long)}`), "carol, joining late, sees the earlier messages");
  check(await evaluate(c, `!${dmLi(psst)}`), "carol does not see bob's DM to alice");
  await waitFor(a, onlineHas("carol"), "alice to see carol online");
  await waitFor(b, onlineHas("carol"), "bob to see carol online");
  check(true, "tabs A and B list carol online");
  await send("Target.closeTarget", { targetId: c.targetId });
  await waitFor(a, onlineLacks("carol"), "carol to leave alice's list when her tab closes");
  await screenshot(a, "chat-a-desktop.png");
  await screenshot(b, "chat-b-desktop.png");

  // 7. Bob goes to #rust and says something there; alice, in the lobby, does not see it.
  await type(b, "room-name", "Not A Room!");
  await waitFor(b, `[...document.querySelectorAll("#log li.error")].some((li) => li.textContent.includes("a-z"))`, "bob to be told about the room's name");
  check(await evaluate(b, `${joinedRoom("lobby")} && !document.querySelector('#rooms li[data-room="not a room!"]')`),
    "a room name the server would refuse is explained inline and not listed; bob stays in the lobby");
  await evaluate(b, `document.querySelector('#rooms li[data-room="rust"]').click(); true`);
  await waitFor(b, `${joinedRoom("rust")} && document.querySelector("#rooms li.current")?.dataset.room === "rust"`, "bob to be in #rust");
  check(await evaluate(b, `!${logHas(hello)}`), "bob's log shows #rust's own messages, not the lobby's");
  await waitFor(a, onlineLacks("bob"), "bob to leave alice's lobby list");
  const rusty = "ownership is neat 🦀";
  await type(b, "text", rusty);
  await waitFor(b, logHas(rusty), "bob to see his message in #rust");
  await sleep(500);
  check(await evaluate(a, `!${logHas(rusty)} && ![...window.chat.rooms.values()].some((r) => [...r.messages.values()].some((m) => m.text === ${js(rusty)}))`),
    "alice, in the lobby, does not get bob's #rust message");
  const lobbyBefore = await evaluate(a, ids);
  const rustBefore = await evaluate(b, ids);
  const bobLobbyBefore = await evaluate(b, `[...window.chat.rooms.get("lobby").messages.keys()]`);

  // 8 and 9. Restart the server: every page shows the close code and reason, reconnects by
  // itself, rejoins its room and fetches what it missed.
  const exit = await stopServer();
  check(exit !== null && exit.code === 0 && exit.signal === null, `SIGTERM: the server exits with status 0 (${js(exit)})`);
  await waitFor(a, `${status}.includes("1001") && ${status}.includes("server shutting down")`, "tab A to show the close reason");
  await waitFor(b, `${status}.includes("1001") && ${status}.includes("server shutting down")`, "tab B to show the close reason");
  check(true, `the pages show the close code and reason (${js(await evaluate(a, status))})`);
  // While tab A waits for its next attempt (2.5 s at least, the backoff grows), the server comes
  // back and 34 bots say 544 things in the lobby: more than the 50 `history` brings on a rejoin
  // and more than one GET /history page (500), so tab A must fetch the rest, page after page.
  // (16 each: the server lets a connection send a burst of 20, then 10 a second.)
  let waited = true;
  try {
    await waitFor(a, `window.chat.retryAt - Date.now() > 2500`, "tab A's backoff to reach 2.5 s", 20000);
  } catch {
    waited = false;
  }
  let base2 = null;
  for (let i = 0; i < 20 && !base2; i++) {
    try {
      base2 = await startServer(`127.0.0.1:${port}`);
    } catch (e) {
      if (i === 19) throw e;
      await sleep(250); // the port may still be held for a moment
    }
  }
  check(base2 === base, `the server restarts on the same port (${base2})`);
  const bots = Array.from({ length: 34 }, (_, i) => `bot${i + 1}`);
  const gapTexts = Array.from({ length: bots.length * 16 }, (_, i) => `while you were away ${i + 1}`);
  const botStart = Date.now();
  const gapIds = (await Promise.all(bots.map((name, i) => bot(base, "lobby", name, gapTexts.slice(i * 16, i * 16 + 16))))).flat();
  const botMs = Date.now() - botStart;
  const stillAway = await evaluate(a, `window.chat.joined === null`);
  await waitFor(a, `${connected} && ${joinedRoom("lobby")}`, "tab A to reconnect and rejoin the lobby", 25000);
  await waitFor(b, `${connected} && ${joinedRoom("rust")}`, "tab B to reconnect and rejoin #rust", 25000);
  check(await evaluate(a, `document.getElementById("me").textContent === "you are alice"`) &&
    await evaluate(b, `document.getElementById("me").textContent === "you are bob"`),
    "both pages reconnected by themselves under the same names, in the same rooms");
  const hasAll = (list) => `${js(list)}.every((id) => document.querySelector(\`#log li[data-id="\${id}"]\`))`;
  await waitFor(a, `${hasAll(gapIds)} && window.chat.fetching === 0`, "tab A to show the bots' messages and to finish GET /history");
  await sleep(500); // anything still in flight lands
  const lobbyAfter = await evaluate(a, ids);
  const rustAfter = await evaluate(b, ids);
  check(noDuplicates(lobbyAfter) && noDuplicates(rustAfter), "no data-id shown twice after the reconnect");
  check(ascending(lobbyAfter) && ascending(rustAfter), "messages stay sorted by id");
  check(lobbyBefore.every((id) => lobbyAfter.includes(id)) && rustBefore.every((id) => rustAfter.includes(id)),
    `nothing shown before the restart is gone (lobby ${lobbyBefore.length} → ${lobbyAfter.length}, #rust ${rustBefore.length} → ${rustAfter.length})`);
  const missing = gapIds.filter((id) => !lobbyAfter.includes(id));
  const fetches = await evaluate(a, "window.chat.historyFetches");
  check(missing.length === 0,
    `all ${gapIds.length} messages said while tab A was away are shown (${missing.length} missing; tab A ${stillAway && waited ? "was still away" : "may have been back already"}; the bots took ${botMs} ms; ${fetches} GET /history)`);
  if (stillAway && waited) check(fetches >= 2, `tab A paged through GET /history (${fetches} calls for ${gapIds.length} messages)`);
  const stored = (await serverHistory(base, "lobby")).map((m) => m.id);
  check(js(stored) === js(lobbyAfter), `tab A's lobby is exactly the server's stored history (${stored.length} messages)`);
  const storedRust = (await serverHistory(base, "rust")).map((m) => m.id);
  check(js(storedRust) === js(rustAfter), `tab B's #rust is exactly the server's stored history (${storedRust.length} messages)`);

  // A message after the restart: bob comes back to the lobby (stored log merged with what he
  // missed there) and speaks; alice sees it.
  await evaluate(b, `document.querySelector('#rooms li[data-room="lobby"]').click(); true`);
  await waitFor(b, `${joinedRoom("lobby")} && ${hasAll(gapIds)} && window.chat.fetching === 0`, "bob to be back in the lobby with what he missed");
  const bobLobby = await evaluate(b, ids);
  check(js(bobLobby) === js(stored) && bobLobbyBefore.every((id) => bobLobby.includes(id)),
    `bob's lobby, kept from before plus what he missed, is the server's history without duplicates (${bobLobby.length})`);
  const back = "back after the restart ✅";
  await type(b, "text", back);
  await waitFor(a, logHas(back), "alice to receive bob's message sent after the restart");
  check(true, "a message sent after the restart arrives");
  await waitFor(a, onlineHas("alice", "bob"), "alice to list bob again");
  await evaluate(a, `document.querySelector('#online li[data-name="bob"]').click(); true`);
  await typeHere(a, "welcome back 👋");
  await waitFor(b, `!!${dmLi("welcome back 👋")}`, "bob to receive alice's DM after the restart");

  const nothingLost = "the server restarted and nothing was lost 🎉";
  await type(a, "text", nothingLost);
  await waitFor(b, logHas(nothingLost), "bob to receive alice's message");

  // 10. Screenshots (the desktop ones before the restart are above): after the restart, then at
  // phone width (375 px) with the sidebar folded and unfolded.
  await screenshot(b, "chat-b-after-restart.png");
  await phone(a);
  await sleep(300);
  const fits = await evaluate(a, `[document.documentElement.scrollWidth, innerWidth, getComputedStyle(document.getElementById("sidebar-toggle")).display, document.getElementById("text").getBoundingClientRect().width]`);
  check(fits[0] <= fits[1] && fits[2] !== "none" && fits[3] > 150,
    `at 375 px wide nothing overflows, the sidebar is behind a toggle and the input is usable (${js(fits)})`);
  await screenshot(a, "chat-a-phone.png");
  await evaluate(a, `document.getElementById("sidebar-toggle").click(); true`);
  await sleep(200);
  check(await evaluate(a, `getComputedStyle(document.getElementById("sidebar")).display !== "none" && ${onlineHas("alice", "bob")}`),
    "at phone width the toggle shows the rooms and the online names");
  await screenshot(a, "chat-a-phone-sidebar.png");

  // 11. Tokens: the server restarted with --tokens; a page with ?token= gets the token's name, a
  // bad one is told so (401), and a page without one asks for it (a bad one: close 1008).
  await send("Target.closeTarget", { targetId: a.targetId });
  await send("Target.closeTarget", { targetId: b.targetId });
  const exit2 = await stopServer();
  check(exit2 !== null && exit2.code === 0, `SIGTERM again: status 0 (${js(exit2)})`);
  const tokens = `${dbPath}.tokens`;
  writeFileSync(tokens, "# token name\ntok-dan-1 dan\ntok-erin-2 erin\n");
  await startServer(`127.0.0.1:${port}`, ["--tokens", tokens]);
  const d = await openTab(`${base}?token=tok-dan-1`, "D");
  await waitFor(d, `${connected} && ${joinedRoom("lobby")} && document.getElementById("me").textContent === "you are dan"`, "tab D to join as dan with its token");
  check(await evaluate(d, `${logHas(back)} && document.getElementById("join-form").hidden`),
    "?token= signs in under the token's name (no name form) and the history is there");
  check(await evaluate(d, `tokenRefused().then((refused) => !refused)`), "GET /history takes the page's token");
  const e = await openTab(`${base}?token=wrong`, "E");
  await waitFor(e, `!document.getElementById("token-form").hidden && ${status}.includes("401")`, "tab E to report its refused token");
  check(true, `a refused ?token= is reported, not retried forever (${js(await evaluate(e, status))})`);
  const f = await openTab(base, "F");
  await waitFor(f, `!document.getElementById("token-form").hidden`, "tab F, without a token, to ask for one");
  await type(f, "token", "not-a-token");
  await waitFor(f, `${status}.includes("1008") && ${status}.includes("invalid token") && !document.getElementById("token-form").hidden`,
    "tab F to show the close 1008 for a bad token message");
  check(true, `a bad token message: the close reason is shown and the token asked again (${js(await evaluate(f, status))})`);
  await type(f, "token", "tok-erin-2");
  await waitFor(f, `${connected} && ${joinedRoom("lobby")} && document.getElementById("me").textContent === "you are erin"`, "tab F to join as erin");
  await waitFor(d, onlineHas("dan", "erin"), "dan to see erin online");
  check(await evaluate(f, `new URLSearchParams(location.search).get("token") === "tok-erin-2"`),
    "a token typed in signs in, and stays in the address for reconnects");
  await screenshot(e, "chat-e-token-refused.png");
} catch (e) {
  check(false, e.message);
}
await finish();
