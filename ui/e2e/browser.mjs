// Browser end-to-end tests: the built UI (e2e mode: in-memory backend behind Tauri's IPC
// mocks) in Debian's Chromium, driven by playwright-core. Screenshots land in
// e2e/artifacts/browser/.
import { createServer } from 'node:http';
import { deflateSync } from 'node:zlib';
import { readFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, extname, dirname } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { harness, assert, assertEq, until } from './harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, '..', 'dist-e2e');
const artifacts = join(here, 'artifacts', 'browser');
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';

if (!existsSync(join(dist, 'index.html'))) {
  console.error('e2e: build the UI first: npx vite build --mode e2e --outDir dist-e2e');
  process.exit(1);
}

const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.png': 'image/png' };

// A picture per document, its colour from the id, so tiles are visibly distinct. PNG, not
// SVG: Chromium builds a whole document per SVG image, which would make the test measure that.
const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}
function mediaPng(path) {
  let h = 0;
  for (const c of path) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  const [w, ht] = [160, 120];
  const rgb = [60 + (h % 150), 60 + ((h >> 8) % 150), 60 + ((h >> 16) % 150)];
  const raw = Buffer.alloc((w * 3 + 1) * ht);
  for (let y = 0; y < ht; y++) {
    for (let x = 0; x < w; x++) {
      const inside = (x - 80) ** 2 + (y - 60) ** 2 < 1600;
      for (let i = 0; i < 3; i++) raw[y * (w * 3 + 1) + 1 + x * 3 + i] = inside ? 255 - rgb[i] : rgb[i];
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(ht, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([sig, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  if (url.pathname.startsWith('/e2e-media/')) {
    res.writeHead(200, { 'content-type': 'image/png', 'cache-control': 'max-age=3600' });
    return res.end(mediaPng(decodeURIComponent(url.pathname)));
  }
  const file = join(dist, url.pathname === '/' ? 'index.html' : url.pathname);
  try {
    const body = await readFile(file);
    res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' });
    res.end(body);
  } catch {
    res.writeHead(404);
    res.end();
  }
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}/`;

await rm(artifacts, { recursive: true, force: true }); // only this run's screenshots
await mkdir(artifacts, { recursive: true });
const profile = await mkdtemp(join(tmpdir(), 'chairside-e2e-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: chromiumPath,
  headless: true,
  viewport: { width: 1280, height: 800 },
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    // Chromium's synthetic camera stands in for the intraoral one, and is allowed without asking.
    '--use-fake-device-for-media-stream',
    '--use-fake-ui-for-media-stream',
  ],
});
const page = context.pages()[0] ?? (await context.newPage());
const pageErrors = [];
page.on('pageerror', (e) => pageErrors.push(String(e)));
page.setDefaultTimeout(5000);

const shot = (name) => page.screenshot({ path: join(artifacts, `${name}.png`) });
const tiles = () => page.locator('[data-testid=gallery] .tile');
async function openPatient(name) {
  await page.locator('.patient', { hasText: name }).click();
  await until(async () => (await page.getByTestId('patient-name').textContent()) === name, `${name} opened`);
}

const { test, run } = harness('e2e (browser)');

test('the patient list loads and searches by name and chart number', async () => {
  await page.goto(base);
  await until(async () => (await page.locator('.patient').count()) === 3, 'three patients listed');
  await shot('01-patients');
  await page.getByLabel('Search patients').fill('C-1002');
  await until(async () => (await page.locator('.patient').count()) === 1, 'one match for the chart number');
  assert((await page.locator('.patient').textContent()).includes('Bruno'), 'Bruno found by chart number');
  await page.getByLabel('Search patients').fill('');
  await until(async () => (await page.locator('.patient').count()) === 3, 'all patients back');
});

test('a patient is added, and a chart number in use is refused in the form', async () => {
  await page.getByRole('button', { name: '+ New', exact: true }).click();
  await page.locator('input[name=name]').fill('Dana Novak');
  await page.locator('input[name=external_id]').fill('C-1001');
  await page.getByRole('button', { name: 'Add patient' }).click();
  await until(async () => (await page.locator('[role=dialog] .form-error').textContent()).includes('already used'), 'duplicate refused');
  await page.locator('input[name=external_id]').fill('C-2001');
  await page.getByRole('button', { name: 'Add patient' }).click();
  await until(async () => (await page.getByTestId('patient-name').textContent()) === 'Dana Novak', 'new patient opened');
  assert((await page.locator('.empty').textContent()).includes('No photos yet'), 'empty gallery explains what to do');
  await shot('02-new-patient-empty-gallery');
});

test('the gallery groups by capture day, filters by kind and counts', async () => {
  await openPatient('Ana Kovač');
  await until(async () => (await tiles().count()) === 9, 'nine tiles');
  assertEq(await page.locator('[data-testid=gallery] .header').count(), 3, 'one header per capture day');
  await shot('03-gallery');
  await page.locator('.chip', { hasText: 'X-ray' }).click();
  await until(async () => (await tiles().count()) === 3, 'three X-rays');
  await page.locator('.chip', { hasText: 'All' }).click();
  await until(async () => (await tiles().count()) === 9, 'all nine again');
});

test('the viewer opens, navigates with the keyboard, zooms and shows the metadata', async () => {
  await tiles().first().click();
  const viewer = page.getByRole('dialog', { name: 'Viewer' });
  await until(async () => (await viewer.locator('dd.mono').textContent()).length === 64, 'SHA-256 shown');
  assert((await viewer.textContent()).includes('Canon EOS 80D'), 'camera shown');
  assertEq((await viewer.locator('.pos').textContent()).trim(), '1 / 9', 'position');
  await page.keyboard.press('ArrowRight');
  await until(async () => (await viewer.locator('.pos').textContent()).trim() === '2 / 9', 'moved to the next photo');
  await page.keyboard.press('+');
  await until(async () => (await viewer.locator('.pct').textContent()).trim() === '125%', 'zoomed in');
  await shot('04-viewer');
  await page.keyboard.press('Escape');
  await until(async () => (await viewer.count()) === 0, 'viewer closed');
});

test('a photo is archived with a reason, found under Archived, and restored', async () => {
  await tiles().first().click();
  const viewer = page.getByRole('dialog', { name: 'Viewer' });
  await viewer.getByRole('button', { name: 'Archive…' }).click();
  await page.locator('input[name=reason]').fill('blurred');
  await page.getByRole('button', { name: 'Archive', exact: true }).click();
  await until(async () => (await viewer.locator('.badge.archived').count()) === 1, 'archived badge');
  assert((await viewer.textContent()).includes('blurred'), 'reason shown');
  await page.keyboard.press('Escape');
  await until(async () => (await tiles().count()) === 8, 'gone from the gallery');
  await page.getByRole('tab', { name: 'Archived' }).click();
  await until(async () => (await tiles().count()) === 1, 'one archived');
  await shot('05-archived');
  await tiles().first().click({ modifiers: ['Control'] });
  await page.getByRole('toolbar', { name: 'Selection' }).getByRole('button', { name: 'Restore' }).click();
  await until(async () => (await page.locator('.empty').textContent()).includes('Nothing archived'), 'archive empty');
  await page.getByRole('tab', { name: 'Photos' }).click();
  await until(async () => (await tiles().count()) === 9, 'back in the gallery');
  assertEq(await page.getByText('Delete').count(), 0, 'nothing offers delete');
});

test('two photos compare side by side with synchronized zoom', async () => {
  await tiles().nth(0).click({ modifiers: ['Control'] });
  await tiles().nth(3).click({ modifiers: ['Control'] });
  await page.getByRole('button', { name: 'Compare' }).click();
  const cmp = page.getByRole('dialog', { name: 'Compare' });
  await until(async () => (await cmp.locator('img').count()) === 2, 'two images');
  await cmp.getByRole('button', { name: 'Zoom in' }).click();
  const transforms = await cmp.locator('img').evaluateAll((imgs) => imgs.map((i) => i.style.transform));
  assert(transforms[0].includes('scale(1.25)') && transforms[0] === transforms[1], `same transform: ${transforms}`);
  assert((await cmp.textContent()).includes('Before') && (await cmp.textContent()).includes('After'), 'before/after labels');
  await shot('06-compare');
  await page.keyboard.press('Escape');
  await page.keyboard.press('Escape');
});

test('a selection is exported to a PDF for a referral, and an existing file is refused in the dialog', async () => {
  await tiles().nth(0).click({ modifiers: ['Control'] });
  await tiles().nth(1).click({ modifiers: ['Control'] });
  await page.getByRole('toolbar', { name: 'Selection' }).getByRole('button', { name: 'Export…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Export 2 documents' });
  await dialog.locator('input[name=export-path]').fill('/home/dr/exists.pdf');
  await dialog.getByRole('button', { name: 'Write' }).click();
  await until(async () => ((await dialog.getByRole('alert').textContent()) ?? '').includes('already exists: choose another file name'), 'the refusal shown in the dialog');
  await dialog.locator('input[name=export-path]').fill('/home/dr/referral.pdf');
  await shot('07-export');
  await dialog.getByRole('button', { name: 'Write' }).click();
  await until(async () => (await page.getByText('2 documents written to /home/dr/referral.pdf.').count()) === 1, 'written');
  await page.keyboard.press('Escape');
});

test('importing shows per-file outcomes, and new photos appear in the grid', async () => {
  await page.getByRole('button', { name: 'Import files…' }).click();
  const panel = page.getByRole('region', { name: 'Imports' });
  await until(async () => (await panel.textContent()).includes('Done 3 / 3'), 'import finished');
  assert((await panel.textContent()).includes('2 new · 0 duplicate · 1 rejected'), 'counts');
  assert((await panel.textContent()).includes('Premature end of JPEG file'), 'rejection reason shown');
  await until(async () => (await tiles().count()) === 11, 'two new tiles');
  await shot('07-import');
  await panel.getByRole('button', { name: 'Clear' }).click();
});

test('a plan item is created, a photo linked to it as "after", and shown under the item', async () => {
  await page.getByRole('tab', { name: 'Notes & plans' }).click();
  await page.locator('input[name=plan_title]').fill('Implant 36');
  await page.getByRole('button', { name: 'Add plan' }).click();
  await page.locator('input[name=item_title]').fill('Crown on 36');
  await page.getByRole('button', { name: 'Add item' }).click();
  await page.locator('textarea[name=note_text]').fill('Healing well, no inflammation.');
  await page.getByRole('button', { name: 'Add note' }).click();
  await until(async () => (await page.locator('[data-item-id]').count()) === 1, 'item listed');
  await page.getByRole('tab', { name: 'Photos' }).click();
  await until(async () => (await tiles().count()) === 11, 'gallery');
  await tiles().nth(1).click({ modifiers: ['Control'] });
  await page.getByRole('toolbar', { name: 'Selection' }).getByRole('button', { name: 'Link…' }).click();
  await page.locator('select[name=role]').selectOption('after');
  await page.getByRole('button', { name: 'Link', exact: true }).click();
  await until(async () => (await page.locator('.toast').allTextContents()).some((t) => t.includes('1 document linked.')), 'linked toast');
  await page.getByRole('tab', { name: 'Notes & plans' }).click();
  await until(async () => (await page.locator('[data-item-id] .photo').count()) === 1, 'photo under the item');
  assertEq((await page.locator('[data-item-id] .role').textContent()).trim(), 'after', 'role');
  await shot('08-notes-plans');
});

test('5,000 photos scroll top to bottom with the DOM under 500 nodes', async () => {
  await openPatient('Carla Many-Photos');
  await until(async () => (await tiles().count()) > 0, 'tiles');
  await page.evaluate(() => (globalThis.__chairsideMetrics.maxDomNodes = 0));
  // Scrolled in the page, a frame drawn after each step: the times are the frames' own.
  const frames = await page.getByTestId('gallery').evaluate(async (el) => {
    const times = [];
    for (let top = 0; top <= el.scrollHeight; top += 1200) {
      const t0 = performance.now();
      el.scrollTop = top;
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      times.push(performance.now() - t0);
    }
    return times.sort((a, b) => a - b);
  });
  const p = (q) => Math.round(frames[Math.min(frames.length - 1, Math.floor(frames.length * q))]);
  console.log(`    ${frames.length} scroll steps of 1,200 px: two frames each, median ${p(0.5)} ms, p95 ${p(0.95)} ms`);
  const max = await page.evaluate(() => globalThis.__chairsideMetrics.maxDomNodes);
  console.log(`    DOM nodes while scrolling 5,000 photos: at most ${max}`);
  assert(max > 0 && max < 500, `DOM stayed under 500 nodes (max ${max})`);
  await until(async () => (await page.locator('[data-testid=gallery] .tile').last().getAttribute('aria-label')).includes('P0.JPG'), 'oldest photo reached');
  await shot('09-5000-scrolled');
});

test('the light theme is available and remembered', async () => {
  await page.getByRole('button', { name: 'Switch theme' }).click();
  assertEq(await page.evaluate(() => document.documentElement.dataset.theme), 'light', 'light theme');
  await openPatient('Ana Kovač');
  await until(async () => (await tiles().count()) === 11, 'gallery');
  await shot('10-light-theme');
  await page.reload();
  await until(async () => (await page.evaluate(() => document.documentElement.dataset.theme)) === 'light', 'remembered');
  await page.getByRole('button', { name: 'Switch theme' }).click();
});

test('a patient is set in the chair and shown as such', async () => {
  await openPatient('Ana Kovač');
  assertEq((await page.getByTestId('in-chair').textContent()).trim(), 'Nobody in the chair', 'nobody at first');
  await page.getByRole('button', { name: 'Set in the chair' }).click();
  await until(async () => (await page.getByTestId('in-chair').textContent()).trim() === 'In the chair: Ana Kovač', 'status bar');
  assertEq(await page.getByTestId('chair-badge').count(), 1, 'badge in the header');
  assertEq(await page.locator('.patient', { hasText: 'Ana Kovač' }).locator('.in-chair').count(), 1, 'marked in the list');
});

let anaTiles = 0;
test('the Unassigned tray lists waiting and failed files and imports into a patient', async () => {
  anaTiles = await tiles().count();
  await until(async () => (await page.getByTestId('tray-entry').locator('.count').textContent()) === '2', 'two in the tray');
  await page.getByTestId('tray-entry').click();
  const files = page.getByRole('list', { name: 'Unassigned files' }).locator('li');
  await until(async () => (await files.count()) === 2, 'two files listed');
  assert((await files.nth(1).textContent()).includes('damaged'), 'the failure shows its reason');
  await shot('11-unassigned-tray');
  await page.getByLabel('Select IMG_2001.JPG').check();
  await page.getByRole('button', { name: /Import 1 into Ana Kovač/ }).click();
  await until(async () => (await page.getByTestId('patient-name').textContent()) === 'Ana Kovač', 'back to the patient');
  await until(async () => (await tiles().count()) === anaTiles + 1, 'the file is in the gallery');
  assertEq(await page.getByTestId('tray-entry').locator('.count').textContent(), '1', 'the failed file stays in the tray');
});

test('teeth are tagged on the chart in the viewer and filter the gallery', async () => {
  await tiles().first().click();
  const viewer = page.getByRole('dialog', { name: 'Viewer' });
  await viewer.getByRole('button', { name: 'Edit teeth…' }).click();
  const picker = page.getByRole('dialog', { name: 'Teeth' });
  await picker.locator('[data-fdi="16"]').click();
  await picker.locator('[data-fdi="26"]').click();
  await page.waitForTimeout(300); // let the pressed colours settle
  await shot('12-tooth-chart');
  await picker.getByRole('button', { name: 'Save teeth' }).click();
  await until(async () => (await viewer.getByTestId('teeth').textContent()) === '16, 26', 'teeth shown in FDI');
  await page.keyboard.press('Escape');
  await until(async () => (await viewer.count()) === 0, 'viewer closed');
  await page.getByLabel('Filter by tooth').selectOption('26');
  await until(async () => (await tiles().count()) === 1, 'one photo of tooth 26');
  await page.getByLabel('Filter by tooth').selectOption('');
  await until(async () => (await tiles().count()) === anaTiles + 1, 'all again');
});

test('the viewer crops to two clicks, undoes and redoes it, and asks for a text in the window', async () => {
  await tiles().first().click();
  const viewer = page.getByRole('dialog', { name: 'Viewer' });
  const layer = viewer.getByTestId('annotation-layer');
  await until(async () => (await layer.count()) === 1, 'the annotation layer');
  const box = async () => (await layer.getAttribute('viewBox')) ?? '';
  const whole = await box();
  const clickAt = async (fx, fy) => {
    const r = await layer.boundingBox();
    await page.mouse.click(r.x + r.width * fx, r.y + r.height * fy);
  };
  await page.keyboard.press('x');
  await until(async () => ((await viewer.getByTestId('tool-hint').textContent()) ?? '').includes('opposite corners'), 'the crop tool asks for corners');
  await clickAt(0.25, 0.25);
  await clickAt(0.75, 0.75);
  await until(async () => (await box()) !== whole, 'cropped');
  const cropped = await box();
  await viewer.getByTestId('undo').click();
  await until(async () => (await box()) === whole, 'undone: the whole image again');
  await viewer.getByTestId('redo').click();
  await until(async () => (await box()) === cropped, 'redone: cropped again');
  await viewer.getByTestId('undo').click();
  await until(async () => (await box()) === whole, 'undone again');
  // A slider is one edit when let go, and undone as one.
  const contrast = viewer.getByTestId('tone').locator('label', { hasText: 'Contrast' });
  await contrast.locator('input').fill('30');
  await until(async () => (await contrast.locator('output').textContent()) === '30', 'the contrast saved');
  await page.keyboard.press('Control+z');
  await until(async () => (await contrast.locator('output').textContent()) === '0', 'the contrast undone');
  // The text tool asks in a dialog of the window, not the browser's prompt.
  await page.keyboard.press('t');
  await clickAt(0.5, 0.5);
  const ask = page.getByRole('dialog', { name: 'Text' });
  await ask.locator('input[name=annotation-text]').fill('caries 36');
  await shot('13-viewer-text');
  await page.keyboard.press('Enter');
  const list = viewer.getByTestId('annotations');
  await until(async () => ((await list.textContent()) ?? '').includes('text · caries 36'), 'the text listed');
  await page.keyboard.press('Control+z');
  await until(async () => ((await list.textContent()) ?? '').includes('None.'), 'the text undone');
  await page.keyboard.press('Escape');
  await until(async () => (await viewer.count()) === 0, 'viewer closed');
});

test('sync: a wrong secret is refused in the form, the right one is saved, the status bar follows, a share link is made', async () => {
  await until(async () => (await page.getByTestId('sync-status').textContent()).includes('Sync off'), 'sync off at first');
  await page.getByRole('button', { name: '⚙ Settings' }).click();
  const dialog = page.getByRole('dialog', { name: 'Settings' });
  await dialog.locator('input[name=sync_endpoint]').fill('https://s3.clinic.example');
  await dialog.locator('input[name=sync_bucket]').fill('clinic-photos');
  await dialog.locator('input[name=sync_access_key]').fill('AKIA-E2E');
  await dialog.locator('input[name=sync_secret]').fill('wrong');
  // Encryption is on by default: the clinic's passphrase is asked for, the recovery key shown once.
  assert(await dialog.locator('input[name=sync_encrypt]').isChecked(), 'encryption on by default');
  await dialog.locator('input[name=sync_passphrase]').fill('a sentence only the clinic knows');
  await dialog.getByRole('button', { name: 'Check and save' }).click();
  await until(async () => (await dialog.locator('.form-error').textContent()).includes('refused the credentials'), 'the wrong secret is refused');
  await dialog.locator('input[name=sync_secret]').fill('right-secret');
  await dialog.getByRole('button', { name: 'Check and save' }).click();
  await until(async () => (await page.getByTestId('sync-status').textContent()).includes('Up to date'), 'the status bar says up to date');
  await until(async () => ((await dialog.getByTestId('recovery-key').textContent()) ?? '').includes('K7QH3-M2PXW'), 'the recovery key is shown');
  await until(async () => ((await dialog.getByTestId('sync-encryption').textContent()) ?? '').includes('clinic key'), 'the key is named');
  await shot('15a-sync-recovery-key');
  await dialog.getByRole('button', { name: 'Test the server' }).click();
  await until(async () => (await dialog.getByTestId('sync-checks').locator('li').count()) === 3, 'the checks are listed');
  await dialog.getByRole('button', { name: 'Install lifecycle rule' }).click();
  await until(async () => (await dialog.getByTestId('sync-lifecycle').textContent()).includes('STANDARD_IA after 30 days'), 'the rule is described');
  await shot('15-sync-settings');
  // After a stolen workstation: a new clinic key, its recovery key shown, the bucket re-sealed
  // in the background (the status bar says so, then up to date).
  await dialog.getByRole('button', { name: 'I have kept it' }).click();
  const key = dialog.getByTestId('clinic-key');
  await key.locator('input[name=key_action][value=rotate]').check();
  await until(async () => ((await key.textContent()) ?? '').includes('sealed again with the new key'), 'what a new key means is said');
  await key.locator('input[name=key_passphrase]').fill('a new sentence for the new key');
  await key.scrollIntoViewIfNeeded();
  await shot('15b-clinic-key');
  await key.getByRole('button', { name: 'Make a new key' }).click();
  await until(async () => ((await dialog.getByTestId('recovery-key').textContent()) ?? '').includes('R4WQ8-N3KXJ'), 'the new recovery key is shown');
  await until(async () => (await page.getByTestId('sync-status').textContent()).includes('Re-sealing'), 'the status bar says the bucket is being re-sealed');
  await until(async () => ((await dialog.getByTestId('sync-encryption').textContent()) ?? '').includes('9c04d7e2a1b35f68'), 'the new key is named');
  await shot('15c-sync-new-clinic-key');
  await until(async () => (await page.getByTestId('sync-status').textContent()).includes('Up to date'), 'then up to date');
  await dialog.getByRole('button', { name: 'I have kept it' }).click();
  await dialog.getByRole('button', { name: 'Done' }).click();
  await tiles().first().click();
  const viewer = page.getByRole('dialog', { name: 'Viewer' });
  await viewer.getByRole('button', { name: 'Share link…' }).click();
  const share = page.getByRole('dialog', { name: 'Share link' });
  await share.locator('select[name=share_expires]').selectOption({ label: '1 day' });
  await share.getByRole('button', { name: 'Make link' }).click();
  await until(async () => (await share.locator('input[name=share_url]').inputValue()).includes('X-Amz-Expires=86400'), 'a one-day link');
  await share.getByRole('button', { name: 'Done' }).click();
  await page.keyboard.press('Escape');
  await until(async () => (await viewer.count()) === 0, 'viewer closed');
});

test('settings: a watched folder is added and the tooth notation switched to Palmer', async () => {
  await page.getByRole('button', { name: '⚙ Settings' }).click();
  const dialog = page.getByRole('dialog', { name: 'Settings' });
  await dialog.locator('input[name=inbox_path]').fill('relative/folder');
  await dialog.getByRole('button', { name: 'Watch', exact: true }).click();
  await until(async () => (await dialog.locator('.form-error').textContent()).includes('full path'), 'a relative path refused');
  await dialog.locator('input[name=inbox_path]').fill('/media/xray-sensor');
  await dialog.locator('select[name=inbox_kind]').selectOption('xray');
  await dialog.getByRole('button', { name: 'Watch', exact: true }).click();
  await until(async () => (await dialog.locator('.folders li').count()) === 2, 'two folders watched');
  await dialog.getByRole('button', { name: 'Palmer (UR6)' }).click();
  await until(async () => (await dialog.getByRole('button', { name: 'Palmer (UR6)' }).getAttribute('aria-pressed')) === 'true', 'Palmer chosen');
  await page.waitForTimeout(300);
  await shot('13-settings');
  await dialog.getByRole('button', { name: 'Done' }).click();
  await page.getByLabel('Filter by tooth').selectOption({ label: 'UL6' });
  await until(async () => (await tiles().count()) === 1, 'the filter speaks Palmer');
  await tiles().first().click();
  const viewer = page.getByRole('dialog', { name: 'Viewer' });
  await until(async () => (await viewer.getByTestId('teeth').textContent()) === 'UR6, UL6', 'teeth shown in Palmer');
  await page.keyboard.press('Escape');
  await page.getByLabel('Filter by tooth').selectOption('');
});

test('a capture session fills a before/after series from the live camera, in slot order', async () => {
  await openPatient('Bruno Díaz');
  await page.getByRole('tab', { name: 'Series' }).click();
  await until(async () => (await page.locator('.empty').textContent()).includes('No series yet'), 'no series yet');
  await page.getByLabel('Template').selectOption('compare-2');
  await page.getByRole('button', { name: 'Start capture session' }).click();
  const capture = page.getByRole('dialog', { name: 'Capture' });
  await until(() => capture.locator('video').evaluate((v) => v.videoWidth > 0 && !v.paused), 'the live picture');
  assertEq((await page.getByTestId('next-slot').textContent()).trim(), 'Next: 1. Before', 'first slot');
  assertEq((await page.getByTestId('in-chair').textContent()).trim(), 'In the chair: Bruno Díaz', 'in the chair');
  await page.keyboard.press('Space'); // the camera's button sends a space
  await until(async () => (await page.getByTestId('next-slot').textContent()).trim() === 'Next: 2. After', 'first still in slot 1');
  await page.waitForTimeout(300);
  await shot('14-capture');
  await capture.getByRole('button', { name: /Capture/ }).click();
  await until(async () => (await page.getByTestId('next-slot').textContent()).trim() === 'Series complete', 'both slots filled');
  assertEq(await capture.locator('.strip li').count(), 2, 'two stills in the filmstrip');
  assertEq(await capture.locator('.mount .slot.filled').count(), 2, 'both shown in the mount');
  await capture.getByRole('button', { name: 'End session' }).click();
  await until(async () => (await page.locator('.card').count()) === 1, 'the series listed');
  assertEq(await page.locator('.card .slot.filled').count(), 2, 'as its mount');
});

test('two series of the same template are compared side by side', async () => {
  await page.getByRole('button', { name: 'Start capture session' }).click();
  const capture = page.getByRole('dialog', { name: 'Capture' });
  await until(() => capture.locator('video').evaluate((v) => v.videoWidth > 0), 'the live picture');
  await page.keyboard.press('Space');
  await until(async () => (await page.getByTestId('next-slot').textContent()).trim() === 'Next: 2. After', 'one still');
  await capture.getByRole('button', { name: 'Close capture' }).click();
  await until(async () => (await page.locator('.card').count()) === 2, 'two series');
  assertEq(await page.locator('.card').first().getByRole('button', { name: 'Continue capture' }).count(), 1, 'the unfinished one can be continued');
  for (const box of await page.locator('.card input[type=checkbox]').all()) await box.check();
  await page.getByRole('button', { name: 'Compare two' }).click();
  await until(async () => (await page.getByLabel('Series compared').locator('.mount').count()) === 2, 'side by side');
  await shot('15-series-compare');
  await page.getByRole('button', { name: 'Back to the list' }).click();
});

test('a clinic adds its own series template, and a bad one is refused with the reason', async () => {
  await page.getByRole('button', { name: '⚙ Settings' }).click();
  await page.getByRole('button', { name: 'New template…' }).click();
  const form = page.getByRole('dialog', { name: 'New series template' });
  await form.locator('input[name=template_name]').fill('Implant 36 follow-up');
  await form.getByLabel('Slot 1 name').fill('Periapical 36');
  await form.getByLabel('Slot 1 kind').selectOption('xray');
  await form.getByLabel('Slot 1 teeth').fill('36');
  await form.getByLabel('Slot 2 name').fill('Buccal view');
  await form.getByLabel('Slot 2 column').fill('1');
  await form.getByRole('button', { name: 'Save template' }).click();
  await until(async () => ((await form.locator('.form-error').textContent()) ?? '').includes('shares its place'), 'overlap refused');
  await form.getByLabel('Slot 2 column').fill('2');
  await page.waitForTimeout(200);
  await shot('17-template-form');
  await form.getByRole('button', { name: 'Save template' }).click();
  const settings = page.getByRole('dialog', { name: 'Settings' });
  await until(async () => (await settings.locator('.templates li', { hasText: 'Implant 36 follow-up' }).count()) === 1, 'listed');
  await settings.getByRole('button', { name: 'Done' }).click();
});

test('with no camera connected, the capture screen says so plainly', async () => {
  // As on a workstation without the USB camera plugged in.
  await page.evaluate(() => {
    navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('Requested device not found', 'NotFoundError'));
  });
  await page.getByRole('button', { name: 'Capture…' }).click();
  const capture = page.getByRole('dialog', { name: 'Capture' });
  await until(async () => ((await capture.getByRole('status').textContent()) ?? '').includes('No camera found'), 'a clear message');
  assertEq(await capture.getByRole('button', { name: 'Retry' }).count(), 1, 'and a way to try again');
  assert(await capture.getByRole('button', { name: /Capture/ }).isDisabled(), 'no shutter without a camera');
  await shot('16-no-camera');
  await capture.getByRole('button', { name: 'Close capture' }).click();
});

test('no script error happened', async () => {
  assertEq(pageErrors.length, 0, `page errors: ${pageErrors.join('; ')}`);
});

const failed = await run({ onFailure: (title) => shot(`failed-${title.replace(/\W+/g, '-').slice(0, 60)}`) });
await context.close();
server.close();
await rm(profile, { recursive: true, force: true });
process.exit(failed ? 1 : 0);
