// A minimal W3C WebDriver client (what tauri-driver speaks), on Node's fetch: sessions,
// elements, clicks, typing, scripts and screenshots. Every call has a timeout.
const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';

export class WebDriver {
  constructor(base) {
    this.base = base;
    this.session = null;
  }

  async cmd(method, path, body, timeoutMs = 30000) {
    const url = `${this.base}${this.session && !path.startsWith('/session') ? `/session/${this.session}` : ''}${path}`;
    const res = await fetch(url, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const json = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(`WebDriver ${method} ${path}: ${json?.value?.error ?? res.status}: ${json?.value?.message ?? ''}`);
    return json.value;
  }

  async start(capabilities) {
    const v = await this.cmd('POST', '/session', { capabilities: { alwaysMatch: capabilities } }, 60000);
    this.session = v.sessionId;
    return v;
  }

  async quit() {
    if (!this.session) return;
    await fetch(`${this.base}/session/${this.session}`, { method: 'DELETE', signal: AbortSignal.timeout(15000) }).catch(() => {});
    this.session = null;
  }

  async find(css) {
    const v = await this.cmd('POST', '/element', { using: 'css selector', value: css });
    if (!v?.[ELEMENT]) throw new Error(`find ${css}: unexpected answer ${JSON.stringify(v)}`);
    return v[ELEMENT];
  }

  async findAll(css) {
    const v = await this.cmd('POST', '/elements', { using: 'css selector', value: css });
    return v.map((e) => e[ELEMENT]);
  }

  click(el) {
    return this.cmd('POST', `/element/${el}/click`, {});
  }

  async type(el, text) {
    await this.cmd('POST', `/element/${el}/clear`, {});
    return this.cmd('POST', `/element/${el}/value`, { text });
  }

  /** Runs `script` (a function body) in the page with `args`. */
  exec(script, ...args) {
    return this.cmd('POST', '/execute/sync', { script, args });
  }

  /** Runs async code in the page: the body receives `done` as its last argument. */
  execAsync(script, ...args) {
    return this.cmd('POST', '/execute/async', { script, args }, 60000);
  }

  screenshot() {
    return this.cmd('GET', '/screenshot');
  }
}
