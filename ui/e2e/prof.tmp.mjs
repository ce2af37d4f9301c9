import { chromium } from 'playwright-core';
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join, extname } from 'node:path';
const dist = '/work/main/ui/dist-e2e';
const mode = process.argv[2];
const server = createServer(async (req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname.startsWith('/e2e-media/')) { if (mode==='noimg') {res.writeHead(404); return res.end();} res.writeHead(200, {'content-type':'image/svg+xml'}); return res.end('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="3"><rect width="4" height="3" fill="red"/></svg>'); }
  try { const b = await readFile(join(dist, url.pathname === '/' ? 'index.html' : url.pathname)); res.writeHead(200, {'content-type': {'.js':'text/javascript','.css':'text/css','.html':'text/html'}[extname(url.pathname)||'.html']}); res.end(b);} catch { res.writeHead(404); res.end(); }
});
await new Promise(r => server.listen(0, '127.0.0.1', r));
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox','--disable-gpu','--disable-background-networking'] });
const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
await page.goto(`http://127.0.0.1:${server.address().port}/`);
await page.locator('.patient', { hasText: 'Carla' }).click();
await page.waitForSelector('.tile');
const t = await page.evaluate(async () => {
  const el = document.querySelector('[data-testid=gallery]');
  const times = [];
  for (let i = 1; i <= 30; i++) {
    const t0 = performance.now();
    el.scrollTop = i * 1200;
    await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
    times.push(Math.round(performance.now() - t0));
  }
  return times;
});
console.log(mode, t.join(' '));
await browser.close(); server.close();
