// A minimal Chrome DevTools Protocol client over Node's built-in WebSocket: one browser
// connection, flat sessions, every call and wait bounded. For the browser tests' scripts.
export const WAIT = 15000;
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class Browser {
  static async connect(port) {
    const version = await (await fetch(`http://127.0.0.1:${port}/json/version`)).json();
    const b = new Browser();
    b.ws = new WebSocket(version.webSocketDebuggerUrl);
    b.nextId = 1;
    b.pending = new Map();
    await new Promise((resolve, reject) => {
      b.ws.onopen = resolve;
      b.ws.onerror = () => reject(new Error("cannot reach the DevTools WebSocket"));
    });
    b.ws.onmessage = (event) => {
      const msg = JSON.parse(event.data);
      const waiter = msg.id && b.pending.get(msg.id);
      if (!waiter) return;
      b.pending.delete(msg.id);
      if (msg.error) waiter.reject(new Error(`${waiter.method}: ${msg.error.message}`));
      else waiter.resolve(msg.result);
    };
    return b;
  }

  send(method, params = {}, sessionId) {
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ id, method, params, sessionId }));
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, method });
      setTimeout(() => {
        if (this.pending.delete(id)) reject(new Error(`${method}: no answer in ${WAIT} ms`));
      }, WAIT).unref();
    });
  }

  async open(url) {
    const { targetId } = await this.send("Target.createTarget", { url });
    const { sessionId } = await this.send("Target.attachToTarget", { targetId, flatten: true });
    return new Tab(this, targetId, sessionId);
  }

  close() {
    try {
      this.ws.close();
    } catch {}
  }
}

export class Tab {
  constructor(browser, targetId, sessionId) {
    Object.assign(this, { browser, targetId, sessionId });
  }

  send(method, params = {}) {
    return this.browser.send(method, params, this.sessionId);
  }

  async eval(expression) {
    const r = await this.send("Runtime.evaluate", { expression, returnByValue: true, awaitPromise: true });
    if (r.exceptionDetails) throw new Error(`page threw: ${r.exceptionDetails.text}`);
    return r.result.value;
  }

  // Polls until `expression` is truthy; its value.
  async waitFor(expression, what, ms = WAIT) {
    const deadline = Date.now() + ms;
    let value;
    while (Date.now() < deadline) {
      try {
        value = await this.eval(expression);
      } catch {
        value = undefined; // the page may still be loading
      }
      if (value) return value;
      await sleep(100);
    }
    throw new Error(`timed out waiting for ${what} (${expression} = ${JSON.stringify(value)})`);
  }

  // Real input: focus the field, insert the text as typed, press Enter.
  async type(id, text) {
    await this.eval(`document.getElementById(${JSON.stringify(id)}).focus()`);
    await this.send("Input.insertText", { text });
    for (const type of ["keyDown", "keyUp"]) {
      await this.send("Input.dispatchKeyEvent", {
        type, key: "Enter", code: "Enter", windowsVirtualKeyCode: 13, text: type === "keyDown" ? "\r" : undefined,
      });
    }
  }

  async screenshot() {
    const { data } = await this.send("Page.captureScreenshot", { format: "png" });
    return Buffer.from(data, "base64");
  }

  close() {
    return this.browser.send("Target.closeTarget", { targetId: this.targetId });
  }
}

// A tap-like tally: `ok - ...` / `FAILED - ...` lines and a summary.
export class Checks {
  constructor() {
    this.passed = 0;
    this.failed = 0;
  }

  check(ok, what) {
    if (ok) this.passed++;
    else this.failed++;
    console.log(`${ok ? "ok" : "FAILED"} - ${what}`);
  }

  finish() {
    console.log(`${this.passed} passed, ${this.failed} failed`);
    return this.failed === 0 ? 0 : 1;
  }
}
