// A small test harness shared by the e2e runners: named async tests run in order, each
// result printed as it lands, and a closing line CI can read.
export function harness(name) {
  const tests = [];
  return {
    test: (title, fn) => tests.push({ title, fn }),
    async run(context = {}) {
      let passed = 0;
      let failed = 0;
      // E2E_ONLY=regex runs the matching tests alone (with those they need), while debugging.
      const only = process.env.E2E_ONLY ? new RegExp(process.env.E2E_ONLY) : null;
      for (const t of tests) {
        if (only && !only.test(t.title)) continue;
        const started = Date.now();
        try {
          await t.fn(context);
          passed += 1;
          console.log(`  ✓ ${t.title} (${Date.now() - started} ms)`);
        } catch (e) {
          failed += 1;
          console.log(`  ✗ ${t.title}\n      ${String(e?.stack ?? e).split('\n').slice(0, 4).join('\n      ')}`);
          if (context.onFailure) await context.onFailure(t.title).catch(() => {});
        }
      }
      console.log(`${name}: ${passed} passed, ${failed} failed`);
      return failed;
    },
  };
}

export function assert(cond, message) {
  if (!cond) throw new Error(message);
}

export function assertEq(actual, expected, message) {
  if (actual !== expected) throw new Error(`${message}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

/** Polls `f` until it returns a truthy value, for at most `ms`. */
export async function until(f, message, ms = 5000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try {
      last = await f();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${ms} ms: ${message} (last: ${String(last)})`);
}
