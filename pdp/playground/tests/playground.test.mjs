// Browser test of the Warden playground: starts `warden playground` on a free
// loopback port, drives Debian's Chromium through Playwright and checks the
// page end to end (examples, diagnostics as you type, tests, decisions,
// sharing by link). Talks only to 127.0.0.1; stops by itself within 2 minutes.
//
//   cd pdp/playground/tests && npm ci && npm test
//
// Environment:
//   WARDEN_BIN          the warden binary (default ../../../target/debug/warden)
//   PLAYGROUND_DIR      the built playground: web files + pkg/ (default ../../../target/playground)
//   SCREENSHOT_DIR      where the screenshots go (default ../../../target/playground-screenshots)
//   CHROMIUM_BIN        the browser (default /usr/bin/chromium; Debian package `chromium`)
//   PLAYGROUND_SERVER   `warden` (default) or `python` (python3 -m http.server, for developing the page)

import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../../..');
const WARDEN_BIN = process.env.WARDEN_BIN || path.join(repo, 'target/debug/warden');
const PLAYGROUND_DIR = path.resolve(process.env.PLAYGROUND_DIR || path.join(repo, 'target/playground'));
const SCREENSHOT_DIR = path.resolve(process.env.SCREENSHOT_DIR || path.join(repo, 'target/playground-screenshots'));
const CHROMIUM_BIN = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const SERVER = process.env.PLAYGROUND_SERVER || 'warden';

const DEADLINE_MS = 115_000; // the whole run, browser start and server included
const STEP_TIMEOUT_MS = 20_000; // one wait for the page
const TESTS_TIMEOUT_MS = 60_000; // running the example's policy tests in wasm

const started = Date.now();
let server = null;
let serverLog = '';
let browser = null;
const pageErrors = []; // uncaught errors and console errors of the pages and their workers

function log(message) {
  const seconds = ((Date.now() - started) / 1000).toFixed(1).padStart(5);
  console.log(`[${seconds}s] ${message}`);
}

class Failure extends Error {}

function assert(condition, message) {
  if (!condition) throw new Failure(message);
}

function assertEqual(actual, expected, what) {
  if (actual !== expected) {
    throw new Failure(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}

async function cleanup() {
  if (browser) {
    const b = browser;
    browser = null;
    await Promise.race([b.close().catch(() => {}), new Promise((r) => setTimeout(r, 5000))]);
  }
  if (server && server.exitCode === null && server.signalCode === null) {
    server.kill('SIGTERM');
    await Promise.race([new Promise((r) => server.once('exit', r)), new Promise((r) => setTimeout(r, 3000))]);
    if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
  }
}

const deadline = setTimeout(async () => {
  console.error(`FAIL: the test did not finish within ${DEADLINE_MS / 1000} s`);
  await cleanup();
  process.exit(1);
}, DEADLINE_MS);

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

async function startServer() {
  for (const file of ['index.html', 'playground.js', 'playground.css', 'pkg/warden_playground.js']) {
    assert(
      fs.existsSync(path.join(PLAYGROUND_DIR, file)),
      `${path.join(PLAYGROUND_DIR, file)} is missing: build the playground first (PLAYGROUND_DIR=${PLAYGROUND_DIR})`,
    );
  }
  const port = await freePort();
  const addr = `127.0.0.1:${port}`;
  let command;
  let args;
  if (SERVER === 'python') {
    command = 'python3';
    args = ['-m', 'http.server', String(port), '--bind', '127.0.0.1', '--directory', PLAYGROUND_DIR];
  } else {
    assert(fs.existsSync(WARDEN_BIN), `${WARDEN_BIN} is missing: build warden first, or set WARDEN_BIN`);
    command = WARDEN_BIN;
    args = ['playground', '--addr', addr, '--dir', PLAYGROUND_DIR];
  }
  log(`server: ${command} ${args.join(' ')}`);
  server = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (chunk) => {
    serverLog = (serverLog + chunk.toString()).slice(-8000);
  };
  server.stdout.on('data', keep);
  server.stderr.on('data', keep);
  const base = `http://${addr}`;
  const until = Date.now() + 20_000;
  for (;;) {
    if (server.exitCode !== null || server.signalCode !== null) {
      throw new Failure(`the server exited (${server.exitCode ?? server.signalCode}) before serving:\n${serverLog}`);
    }
    try {
      const response = await fetch(`${base}/`, { signal: AbortSignal.timeout(2000) });
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > until) throw new Failure(`the server did not answer on ${base} within 20 s:\n${serverLog}`);
    await new Promise((r) => setTimeout(r, 150));
  }
  return base;
}

/** What the server sends for the page's files: a module script and wasm need the right types. */
async function checkContentTypes(base) {
  const expect = [
    ['/', /^text\/html/],
    ['/playground.js', /^(text|application)\/javascript/],
    ['/playground.css', /^text\/css/],
    ['/pkg/warden_playground.js', /^(text|application)\/javascript/],
  ];
  if (fs.existsSync(path.join(PLAYGROUND_DIR, 'pkg/warden_playground_bg.wasm'))) {
    expect.push(['/pkg/warden_playground_bg.wasm', /^application\/wasm/]);
  }
  for (const [url, type] of expect) {
    const response = await fetch(base + url, { signal: AbortSignal.timeout(5000) });
    assertEqual(response.status, 200, `status of GET ${url}`);
    const contentType = response.headers.get('content-type') || '';
    assert(type.test(contentType), `GET ${url}: content-type ${JSON.stringify(contentType)} does not match ${type}`);
    await response.arrayBuffer();
  }
}

let shot = 0;
async function screenshot(page, name) {
  shot++;
  const file = path.join(SCREENSHOT_DIR, `${String(shot).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true, timeout: STEP_TIMEOUT_MS });
  log(`screenshot ${file}`);
}

/** Waits for `selector`; on failure says what the page shows instead. */
async function waitFor(page, selector, what, timeout = STEP_TIMEOUT_MS) {
  try {
    await page.waitForSelector(selector, { timeout, state: 'attached' });
  } catch {
    const status = await page.textContent('#status').catch(() => '?');
    const diagnostics = await page
      .$$eval('.diagnostic', (items) => items.slice(0, 8).map((i) => i.textContent))
      .catch(() => []);
    const decision = await page
      .$eval('#decision', (d) => JSON.stringify({ ...d.dataset, text: d.textContent.slice(0, 300) }))
      .catch(() => '?');
    throw new Failure(
      `${what}: no ${selector} within ${timeout / 1000} s\n  status: ${status}\n  diagnostics: ${JSON.stringify(diagnostics)}\n  decision: ${decision}`,
    );
  }
}

async function editorValue(page) {
  return page.$eval('#editor', (e) => e.value);
}

async function setCursor(page, offset) {
  await page.$eval(
    '#editor',
    (e, o) => {
      e.focus();
      e.setSelectionRange(o, o);
    },
    offset,
  );
}

async function openFile(page, filePath) {
  await page.click(`#file-tabs [role="tab"][data-path="${filePath}"]`);
  await page.waitForFunction((p) => document.querySelector('#file-path').value === p, filePath, {
    timeout: STEP_TIMEOUT_MS,
  });
}

/** Every file of the editor, read through the tabs: [{path, text}]. */
async function allFiles(page) {
  const paths = await page.$$eval('#file-tabs [role="tab"]', (tabs) => tabs.map((t) => t.dataset.path));
  const files = [];
  for (const p of paths) {
    await openFile(page, p);
    files.push({ path: p, text: await editorValue(page) });
  }
  return files;
}

async function waitChecked(page, state, what) {
  await waitFor(page, `#diagnostics[data-state="${state}"]`, what);
}

async function send(page, { method = 'GET', url, headers = '', body = '', claims = null, ip = '' }) {
  await page.selectOption('#request-method', method);
  await page.fill('#request-url', url);
  await page.fill('#request-headers', headers);
  await page.fill('#request-body', body);
  await page.fill('#claims', claims === null ? '' : JSON.stringify(claims, null, 2));
  await page.fill('#source-ip', ip);
  // Forget the previous decision, so the wait below sees this one.
  await page.$eval('#decision', (d) => {
    for (const key of Object.keys(d.dataset)) delete d.dataset[key];
  });
  await page.click('#send');
  await waitFor(page, '#decision[data-state="done"], #decision[data-state="error"]', `decision for ${method} ${url}`);
  return page.$eval('#decision', (d) => ({ ...d.dataset, token: d.querySelector('#token')?.textContent ?? null }));
}

async function main() {
  assert(fs.existsSync(CHROMIUM_BIN), `${CHROMIUM_BIN} is missing: apt-get install -y chromium (or set CHROMIUM_BIN)`);
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  for (const old of fs.readdirSync(SCREENSHOT_DIR)) {
    if (old.endsWith('.png')) fs.rmSync(path.join(SCREENSHOT_DIR, old));
  }

  const base = await startServer();
  log(`serving ${PLAYGROUND_DIR} on ${base}`);
  await checkContentTypes(base);

  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  browser = await chromium.launch({
    executablePath: CHROMIUM_BIN,
    headless: true,
    timeout: 30_000,
    args: [...(isRoot ? ['--no-sandbox'] : []), '--disable-dev-shm-usage', '--disable-gpu', '--no-first-run'],
  });
  const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);

  // Only the playground's own server may be asked for anything.
  const { host } = new URL(base);
  const blocked = [];
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.host === host && url.protocol === 'http:') return route.continue();
    blocked.push(url.href);
    return route.abort('blockedbyclient');
  });
  const watch = (page, name) => {
    page.on('pageerror', (err) => pageErrors.push(`${name}: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') pageErrors.push(`${name} console: ${msg.text()}`);
    });
    // The compiler runs in a worker: its panics are written to its console.
    page.on('worker', (worker) => {
      worker.on('console', (msg) => {
        if (msg.type() === 'error') {
          pageErrors.push(`${name} worker console: ${msg.text()}`);
          log(`${name} worker console error: ${msg.text()}`);
        }
      });
    });
  };

  const page = await context.newPage();
  watch(page, 'page');

  // 1. The page loads, with the compiler and the examples.
  log('load the page');
  await page.goto(`${base}/`, { waitUntil: 'load', timeout: STEP_TIMEOUT_MS });
  await waitFor(page, 'body[data-ready="true"]', 'the page to load the compiler', 30_000);
  const exampleNames = await page.$$eval('#examples option:not([disabled])', (os) => os.map((o) => o.value));
  log(`examples: ${exampleNames.join(', ')}`);
  for (const name of ['bank', 'identity', 'todo']) {
    assert(exampleNames.includes(name), `the examples menu lacks ${name}: ${JSON.stringify(exampleNames)}`);
  }
  const firstTabs = await page.$$eval('#file-tabs [role="tab"]', (tabs) => tabs.length);
  assert(firstTabs > 0, 'no files are loaded without a link');
  await waitChecked(page, 'ok', 'the first example to compile');
  await screenshot(page, 'loaded');

  // 2. The examples menu: identity, then bank, each compiling without errors.
  log('pick the identity example');
  await page.selectOption('#examples', 'identity');
  await waitFor(page, '#file-tabs [role="tab"][data-path="profile.warden"]', 'the identity files');
  await waitChecked(page, 'ok', 'the identity example to compile');
  log('pick the bank example');
  await page.selectOption('#examples', 'bank');
  await waitFor(page, '#file-tabs [role="tab"][data-path="accounts.warden"]', 'the bank files');
  await waitChecked(page, 'ok', 'the bank example to compile');
  assertEqual(await page.locator('.diagnostic[data-severity="error"]').count(), 0, 'error diagnostics of bank');
  await waitFor(page, '#graph svg', 'the decision graph of bank');
  assertEqual(await page.locator('#graph script').count(), 0, 'scripts in the graph');
  await screenshot(page, 'bank');

  // 3. Format leaves the (already formatted) example alone.
  await openFile(page, 'accounts.warden');
  const original = await editorValue(page);
  await page.click('#format');
  await page.waitForFunction(() => /formatted/i.test(document.querySelector('#status').textContent), null, {
    timeout: STEP_TIMEOUT_MS,
  });
  assertEqual(await editorValue(page), original, 'accounts.warden after Format');

  // 4. Break a line: drop the closing quote of a route's path.
  log('break accounts.warden');
  const lines = original.split('\n');
  const lineIndex = lines.findIndex((l) => l.includes('route GET "/accounts/{account_id}" {'));
  assert(lineIndex >= 0, 'accounts.warden has no `route GET "/accounts/{account_id}"` line');
  const line = lines[lineIndex];
  const lineStart = lines.slice(0, lineIndex).join('\n').length + 1;
  const openQuote = line.indexOf('"');
  const closeQuote = line.indexOf('"', openQuote + 1);
  const expectedLine = lineIndex + 1;
  const expectedColumn = openQuote + 1; // the string that never closes starts at its opening quote
  await setCursor(page, lineStart + closeQuote + 1);
  await page.keyboard.press('Backspace');
  assertEqual(
    (await editorValue(page)).split('\n')[lineIndex],
    line.slice(0, closeQuote) + line.slice(closeQuote + 1),
    'the broken line',
  );
  const broken = `.diagnostic[data-code="E0101"][data-severity="error"][data-path="accounts.warden"][data-line="${expectedLine}"][data-column="${expectedColumn}"]`;
  await waitFor(page, broken, `E0101 (unterminated string) at accounts.warden:${expectedLine}:${expectedColumn}`);
  await waitChecked(page, 'error', 'the check to fail');
  await waitFor(page, `#gutter .ln.error[data-line="${expectedLine}"]`, `the gutter mark on line ${expectedLine}`);
  const shown = await page.textContent(broken);
  assert(
    shown.includes(`accounts.warden:${expectedLine}:${expectedColumn}`) && shown.includes('error[E0101]'),
    `the diagnostic reads ${JSON.stringify(shown)}`,
  );
  await screenshot(page, 'broken');

  // Clicking the diagnostic puts the cursor on it.
  await setCursor(page, 0);
  await page.click(`${broken} button`);
  const cursor = await page.$eval('#editor', (e) => ({
    start: e.selectionStart,
    focused: document.activeElement === e,
  }));
  assertEqual(cursor.start, lineStart + openQuote, 'the cursor after clicking the diagnostic');
  assert(cursor.focused, 'the editor has the focus after clicking the diagnostic');

  // 5. Fix it: the error goes away.
  log('fix accounts.warden');
  await setCursor(page, lineStart + closeQuote);
  await page.keyboard.type('"');
  assertEqual(await editorValue(page), original, 'accounts.warden after the fix');
  await waitChecked(page, 'ok', 'the check to pass again');
  assertEqual(await page.locator('.diagnostic[data-code="E0101"]').count(), 0, 'E0101 diagnostics after the fix');
  assertEqual(await page.locator('.diagnostic[data-severity="error"]').count(), 0, 'errors after the fix');
  assertEqual(await page.locator('#gutter .ln.error').count(), 0, 'gutter error marks after the fix');
  await screenshot(page, 'fixed');

  // 6. The tests of the example all pass, with coverage.
  log('run the tests');
  await page.click('#run-tests');
  await waitFor(page, '#test-results[data-state="done"], #test-results[data-state="error"], #test-results[data-state="failed"]', 'the test results', TESTS_TIMEOUT_MS);
  const total = await page.locator('.test-result').count();
  const passed = await page.locator('.test-result[data-status="pass"]').count();
  const failedNames = await page.$$eval('.test-result[data-status="fail"]', (ts) => ts.map((t) => t.textContent));
  log(`tests: ${passed} of ${total} passed; ${await page.textContent('#test-summary')}`);
  assert(total > 0, `no test results: ${await page.textContent('#test-summary')}`);
  assertEqual(failedNames.length, 0, `failed tests (${failedNames.join(' | ')})`);
  assertEqual(passed, total, 'passing tests');
  const coverage = await page.locator('.coverage-item').count();
  const covered = await page.locator('.coverage-item[data-covered="true"]').count();
  log(`coverage: ${covered} of ${coverage} covered`);
  assert(coverage > 0 && covered > 0, `coverage: ${covered} of ${coverage} items covered`);
  await screenshot(page, 'tests');

  // 7. An allowed request: a customer reads their own account.
  log('send an allowed request');
  const customer = { sub: 'u-1', customer_id: '42', scope: 'accounts:read' };
  const allowed = await send(page, { url: 'https://api.bank.example/v1/accounts/42', claims: customer, ip: '203.0.113.7' });
  assertEqual(allowed.allow, 'true', `allow (${JSON.stringify(allowed)})`);
  assertEqual(allowed.reason, 'allowed', 'reason');
  assertEqual(allowed.status, '200', 'status');
  assert(allowed.token && allowed.token.startsWith('eyJ'), `the token used: ${allowed.token}`);
  await screenshot(page, 'allowed');

  // 8. Denied: no token at all, then a token without the scope.
  log('send a request without a token');
  const anonymous = await send(page, { url: 'https://api.bank.example/v1/accounts/42', ip: '203.0.113.8' });
  assertEqual(anonymous.allow, 'false', `allow (${JSON.stringify(anonymous)})`);
  assertEqual(anonymous.reason, 'credentials_missing', 'reason');
  assertEqual(anonymous.status, '401', 'status');
  assert(!anonymous.token, 'no token is shown when none was sent');
  await screenshot(page, 'denied-no-token');

  log('send a request without the scope');
  const noScope = await send(page, {
    url: 'https://api.bank.example/v1/accounts/42',
    claims: { ...customer, scope: 'payments:write' },
    ip: '203.0.113.9',
  });
  assertEqual(noScope.allow, 'false', `allow (${JSON.stringify(noScope)})`);
  assertEqual(noScope.reason, 'insufficient_scope', 'reason');
  assertEqual(noScope.status, '403', 'status');
  await screenshot(page, 'denied-scope');

  // 9. Share: an edited set travels in the link and comes back in a new page.
  log('share');
  await openFile(page, 'accounts.warden');
  await setCursor(page, 0);
  await page.keyboard.type('// Edited in the playground test: ünïcödé ✓\n');
  await waitChecked(page, 'ok', 'the edited file to compile');
  await page.click('#share');
  await page.waitForFunction(() => document.querySelector('#share-url').value.includes('#files='), null, {
    timeout: STEP_TIMEOUT_MS,
  });
  const shareUrl = await page.inputValue('#share-url');
  assert(shareUrl.startsWith(`${base}/#files=`), `the share link ${shareUrl.slice(0, 80)}…`);
  assertEqual(page.url(), shareUrl, 'the address bar after Share');
  log(`share link: ${shareUrl.length} characters`);
  const before = await allFiles(page);
  assert(before.find((f) => f.path === 'accounts.warden').text.startsWith('// Edited in the playground test'), 'the edit');

  const shared = await context.newPage();
  watch(shared, 'shared page');
  await shared.goto(shareUrl, { waitUntil: 'load', timeout: STEP_TIMEOUT_MS });
  await waitFor(shared, 'body[data-ready="true"]', 'the shared page to load', 30_000);
  await waitChecked(shared, 'ok', 'the shared files to compile');
  const after = await allFiles(shared);
  assertEqual(JSON.stringify(after.map((f) => f.path)), JSON.stringify(before.map((f) => f.path)), 'the shared paths');
  for (let i = 0; i < before.length; i++) {
    assertEqual(after[i].text, before[i].text, `the shared text of ${before[i].path}`);
  }
  await openFile(shared, 'accounts.warden');
  await screenshot(shared, 'shared');

  assertEqual(blocked.length, 0, `requests that left the playground's server (${blocked.join(', ')})`);
  assertEqual(pageErrors.length, 0, `errors in the page (${pageErrors.join(' | ')})`);
}

let code = 0;
try {
  await main();
  log('PASS');
} catch (err) {
  code = 1;
  console.error(`FAIL: ${err instanceof Failure ? err.message : err.stack || err}`);
  if (pageErrors.length) console.error(`errors in the page:\n  ${pageErrors.join('\n  ')}`);
  if (serverLog.trim()) console.error(`server output:\n${serverLog}`);
} finally {
  await cleanup();
  clearTimeout(deadline);
}
process.exit(code);
