// The Warden playground: the page, and (the same file, loaded as a module
// worker) the worker that runs the compiler and engine (WebAssembly) off the
// page's thread, so typing stays responsive while tests run.
//
// No framework, no external resources. The files never leave the browser: a
// shared link carries them compressed in the URL fragment, which browsers do
// not send to the server.

const WASM_MODULE = './pkg/warden_playground.js';
const WASM_FUNCTIONS = ['examples', 'check', 'format', 'run_tests', 'issuers', 'decide', 'graph_svg'];

// ---------------------------------------------------------------------------
// Worker side
// ---------------------------------------------------------------------------

async function loadWasm() {
  const mod = await import(new URL(WASM_MODULE, import.meta.url).href);
  await mod.default();
  return mod;
}

function workerMain() {
  let ready = null;
  self.onmessage = async (event) => {
    const { id, fn, args } = event.data;
    try {
      if (!ready) ready = loadWasm();
      const wasm = await ready;
      let result = null;
      if (fn !== '__init') {
        if (!WASM_FUNCTIONS.includes(fn) || typeof wasm[fn] !== 'function') {
          throw new Error(`the playground module has no function ${fn}`);
        }
        result = wasm[fn](...args);
      }
      self.postMessage({ id, result });
    } catch (err) {
      self.postMessage({ id, error: errorText(err), fatal: err instanceof WebAssembly.RuntimeError });
    }
  };
}

function errorText(err) {
  if (err && typeof err === 'object' && 'message' in err) return String(err.message);
  return String(err);
}

// ---------------------------------------------------------------------------
// Engine: calls into the wasm module, in a worker when possible
// ---------------------------------------------------------------------------

const CALL_TIMEOUT_MS = { run_tests: 90_000, __init: 60_000 };
const DEFAULT_TIMEOUT_MS = 30_000;

class Engine {
  constructor() {
    this.worker = null;
    this.direct = null; // the module, when running on the page's thread
    this.pending = new Map();
    this.nextId = 1;
  }

  async start() {
    try {
      this.spawn();
      await this.call('__init');
    } catch (err) {
      // Module workers unsupported, or the worker could not load: run here.
      console.warn('Warden playground: no worker, running the compiler on the page', err);
      this.killWorker(err);
      this.direct = await loadWasm();
    }
  }

  spawn() {
    const worker = new Worker(import.meta.url, { type: 'module', name: 'warden' });
    worker.onmessage = (event) => {
      const { id, result, error, fatal } = event.data;
      const entry = this.pending.get(id);
      if (!entry) return;
      this.pending.delete(id);
      clearTimeout(entry.timer);
      if (error !== undefined) {
        entry.reject(new Error(fatal ? `the compiler crashed (${error}): a bug, its message is in the browser console` : error));
        // A panic can leave the module's state broken: start afresh next time.
        if (fatal) this.killWorker(new Error('the compiler crashed and was restarted'));
      } else {
        entry.resolve(result);
      }
    };
    worker.onerror = (event) => {
      event.preventDefault?.();
      this.killWorker(new Error(event.message || 'the compiler worker failed'));
    };
    this.worker = worker;
  }

  killWorker(reason) {
    if (this.worker) this.worker.terminate();
    this.worker = null;
    for (const entry of this.pending.values()) {
      clearTimeout(entry.timer);
      entry.reject(reason);
    }
    this.pending.clear();
  }

  /** Calls `fn(...args)` of the module; resolves to its (JSON string) result. */
  call(fn, ...args) {
    if (this.direct) {
      return new Promise((resolve, reject) => {
        try {
          resolve(this.direct[fn](...args));
        } catch (err) {
          reject(new Error(errorText(err)));
        }
      });
    }
    if (!this.worker) this.spawn();
    const id = this.nextId++;
    const worker = this.worker;
    return new Promise((resolve, reject) => {
      const ms = CALL_TIMEOUT_MS[fn] ?? DEFAULT_TIMEOUT_MS;
      const timer = setTimeout(() => {
        if (this.worker === worker) {
          this.killWorker(new Error(`${fn} took longer than ${ms / 1000} s; the compiler was restarted`));
        }
      }, ms);
      this.pending.set(id, { resolve, reject, timer });
      worker.postMessage({ id, fn, args });
    });
  }

  /** Calls `fn` and parses its JSON result. */
  async json(fn, ...args) {
    const text = await this.call(fn, ...args);
    try {
      return JSON.parse(text);
    } catch {
      throw new Error(`${fn} returned something that is not JSON: ${String(text).slice(0, 200)}`);
    }
  }
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

function $(id) {
  return document.getElementById(id);
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function isWarden(path) {
  return path.endsWith('.warden');
}

/** UTF-16 offset of 1-based `line` and `column` (counted in characters) in `text`. */
function offsetOf(text, line, column) {
  let offset = 0;
  for (let l = 1; l < line; l++) {
    const nl = text.indexOf('\n', offset);
    if (nl < 0) return text.length;
    offset = nl + 1;
  }
  let lineEnd = text.indexOf('\n', offset);
  if (lineEnd < 0) lineEnd = text.length;
  for (let c = 1; c < column && offset < lineEnd; c++) {
    const code = text.charCodeAt(offset);
    offset += code >= 0xd800 && code <= 0xdbff && offset + 1 < lineEnd ? 2 : 1;
  }
  return offset;
}

/** 1-based line of a UTF-16 offset. */
function lineOf(text, offset) {
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

/** 1-based line and column (in characters) of a UTF-16 offset. */
function lineColOf(text, offset) {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const lineStart = before.lastIndexOf('\n') + 1;
  const column = [...text.slice(lineStart, offset)].length + 1;
  return { line, column };
}

function base64UrlEncode(bytes) {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function base64UrlDecode(text) {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

async function pipeBytes(bytes, stream) {
  const out = new Blob([bytes]).stream().pipeThrough(stream);
  return new Uint8Array(await new Response(out).arrayBuffer());
}

async function encodeFiles(files) {
  if (typeof CompressionStream === 'undefined') throw new Error('this browser cannot compress (no CompressionStream)');
  const json = JSON.stringify({ v: 1, files: files.map(({ path, text }) => ({ path, text })) });
  const packed = await pipeBytes(new TextEncoder().encode(json), new CompressionStream('deflate-raw'));
  return base64UrlEncode(packed);
}

const MAX_SHARED_BYTES = 32 * 1024 * 1024;

async function decodeFiles(encoded) {
  if (typeof DecompressionStream === 'undefined') throw new Error('this browser cannot decompress (no DecompressionStream)');
  const bytes = await pipeBytes(base64UrlDecode(encoded), new DecompressionStream('deflate-raw'));
  if (bytes.length > MAX_SHARED_BYTES) throw new Error('the shared files are too large');
  const value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  const files = Array.isArray(value) ? value : value && value.files;
  if (!Array.isArray(files) || files.length === 0) throw new Error('the link holds no files');
  const seen = new Set();
  return files.map((file) => {
    if (!file || typeof file.path !== 'string' || typeof file.text !== 'string') {
      throw new Error('the link holds a malformed file');
    }
    const problem = pathProblem(file.path, seen);
    if (problem) throw new Error(`the link holds a bad path ${JSON.stringify(file.path)}: ${problem}`);
    seen.add(file.path);
    return { path: file.path, text: file.text };
  });
}

/** Why `path` cannot name a file (null when it can). `taken` holds the other files' paths. */
function pathProblem(path, taken) {
  if (path.trim() === '') return 'a file needs a name';
  if (path !== path.trim()) return 'no spaces at the start or end';
  if (path.startsWith('/') || path.includes('\\')) return 'use a relative path with `/`';
  if (path.split('/').some((part) => part === '' || part === '.' || part === '..')) {
    return 'no empty, `.` or `..` parts';
  }
  if (path.length > 200) return 'at most 200 characters';
  if (taken.has(path)) return 'another file has this path';
  return null;
}

function debounce(fn, ms) {
  let timer = null;
  const wrapped = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      fn(...args);
    }, ms);
  };
  wrapped.pending = () => timer !== null;
  wrapped.cancel = () => {
    clearTimeout(timer);
    timer = null;
  };
  return wrapped;
}

function decodeJwtPayload(token) {
  try {
    const part = token.split('.')[1];
    return JSON.parse(new TextDecoder().decode(base64UrlDecode(part)));
  } catch {
    return null;
  }
}

// Requests and claims that make sense for the bundled examples (an example not
// listed here gets a request built from its issuers only).
const PRESETS = {
  bank: {
    method: 'GET',
    url: 'https://api.bank.example/v1/accounts/42',
    sourceIp: '203.0.113.7',
    claims: { sub: 'u-1', customer_id: '42', scope: 'accounts:read' },
  },
  identity: {
    method: 'GET',
    url: 'https://id.example.com/v1/me',
    claims: { sub: 'u-1', scope: 'openid profile:read' },
  },
  trust: {
    method: 'GET',
    url: 'https://api.shop.example/v1/orders/o-1',
    claims: { sub: 'c-1', customer_id: 'c-1', scope: 'orders:read' },
  },
};

const NO_PRESET = { method: 'GET', url: 'https://api.example/', sourceIp: '' };

// ---------------------------------------------------------------------------
// Page side
// ---------------------------------------------------------------------------

function pageMain() {
  const state = {
    files: [], // [{path, text}]
    current: 0,
    generation: 0, // bumped on every change of the files
    diagnostics: [], // of the last check
    ranges: [], // the current file's diagnostics as UTF-16 ranges: {start, end, severity}
    lastText: '',
    checkRunning: false,
    graphRevision: null,
    issuers: [],
    example: null,
    escapePressed: false,
  };
  const engine = new Engine();

  const editor = $('editor');
  const gutter = $('gutter');
  const backdrop = $('backdrop');

  // ---- status line ----

  function setStatus(text, kind = 'info') {
    const status = $('status');
    // Unchanged text is not written again, so screen readers do not repeat it.
    if (status.textContent !== text) status.textContent = text;
    status.dataset.kind = kind;
  }

  function showNotice(text) {
    $('notice-text').textContent = text;
    $('notice').hidden = false;
  }

  // ---- files ----

  function currentFile() {
    return state.files[state.current];
  }

  function filesJson() {
    return JSON.stringify(state.files.map(({ path, text }) => ({ path, text })));
  }

  function setFiles(files, { select = 0 } = {}) {
    state.files = files.map(({ path, text }) => ({ path, text }));
    state.current = Math.min(select, state.files.length - 1);
    state.diagnostics = [];
    state.graphRevision = null;
    renderTabs();
    showCurrentFile();
    changed();
  }

  function preferredFile(files) {
    // Start on the first policy file that is not a test.
    const index = files.findIndex((f) => isWarden(f.path) && !f.path.startsWith('tests/'));
    return index >= 0 ? index : 0;
  }

  function renderTabs() {
    const tabs = $('file-tabs');
    const scrollTop = tabs.scrollTop;
    const focused = tabs.contains(document.activeElement) ? document.activeElement.id : null;
    tabs.replaceChildren();
    const counts = new Map();
    for (const d of state.diagnostics) {
      const c = counts.get(d.path) || { error: 0, warning: 0 };
      c[d.severity === 'error' ? 'error' : 'warning']++;
      counts.set(d.path, c);
    }
    state.files.forEach((file, index) => {
      const selected = index === state.current;
      const c = counts.get(file.path);
      let badge = null;
      if (c && c.error) badge = el('span', { class: 'badge error', text: String(c.error), title: `${c.error} error(s)` });
      else if (c && c.warning) {
        badge = el('span', { class: 'badge warning', text: String(c.warning), title: `${c.warning} warning(s)` });
      }
      const label = badge ? `${file.path}, ${badge.title}` : file.path;
      const tab = el(
        'button',
        {
          type: 'button',
          role: 'tab',
          class: 'file-tab',
          id: `file-tab-${index}`,
          'aria-selected': selected ? 'true' : 'false',
          'aria-controls': 'file-panel',
          'aria-label': label,
          tabindex: selected ? '0' : '-1',
          dataset: { path: file.path, testid: 'file-tab' },
          onclick: () => selectFile(index),
          onkeydown: (event) => tabKey(event, index),
        },
        el('span', { text: file.path }),
        badge,
      );
      tabs.append(tab);
    });
    tabs.scrollTop = scrollTop;
    if (focused) $(focused)?.focus();
    $('file-panel').setAttribute('aria-labelledby', `file-tab-${state.current}`);
  }

  function tabKey(event, index) {
    let next = null;
    if (event.key === 'ArrowDown' || event.key === 'ArrowRight') next = (index + 1) % state.files.length;
    else if (event.key === 'ArrowUp' || event.key === 'ArrowLeft') {
      next = (index - 1 + state.files.length) % state.files.length;
    } else if (event.key === 'Home') next = 0;
    else if (event.key === 'End') next = state.files.length - 1;
    if (next === null) return;
    event.preventDefault();
    selectFile(next, { focusTab: true });
  }

  function selectFile(index, { focusTab = false } = {}) {
    if (index < 0 || index >= state.files.length) return;
    state.current = index;
    renderTabs();
    showCurrentFile();
    $(`file-tab-${index}`)?.scrollIntoView({ block: 'nearest', inline: 'nearest' });
    if (focusTab) $(`file-tab-${index}`)?.focus();
  }

  function showCurrentFile() {
    const file = currentFile();
    editor.value = file ? file.text : '';
    state.lastText = editor.value;
    editor.scrollTop = 0;
    editor.scrollLeft = 0;
    editor.setSelectionRange(0, 0);
    $('file-path').value = file ? file.path : '';
    $('file-path-error').textContent = '';
    $('current-file-name').textContent = file ? file.path : '';
    $('format').textContent = file && !isWarden(file.path) && file.path.endsWith('.json') ? 'Format JSON' : 'Format';
    $('delete-file').disabled = state.files.length <= 1;
    computeRanges();
    renderEditorDecorations();
    updateCursorPosition();
  }

  function addFile() {
    const taken = new Set(state.files.map((f) => f.path));
    let n = 1;
    let path = 'new.warden';
    while (taken.has(path)) path = `new-${++n}.warden`;
    state.files.push({ path, text: '' });
    state.current = state.files.length - 1;
    renderTabs();
    showCurrentFile();
    changed();
    const input = $('file-path');
    input.focus();
    input.setSelectionRange(0, path.length - '.warden'.length);
    setStatus(`Added ${path}: type its path and press Enter to rename it.`);
  }

  function renameFile() {
    const file = currentFile();
    if (!file) return;
    const input = $('file-path');
    const path = input.value;
    if (path === file.path) return;
    const taken = new Set(state.files.filter((f) => f !== file).map((f) => f.path));
    const problem = pathProblem(path, taken);
    if (problem) {
      $('file-path-error').textContent = `Cannot rename: ${problem}.`;
      input.setAttribute('aria-invalid', 'true');
      return;
    }
    input.removeAttribute('aria-invalid');
    $('file-path-error').textContent = '';
    const old = file.path;
    file.path = path;
    $('current-file-name').textContent = path;
    renderTabs();
    changed();
    setStatus(`Renamed ${old} to ${path}.`);
  }

  function deleteFile() {
    const file = currentFile();
    if (!file || state.files.length <= 1) return;
    if (!window.confirm(`Delete ${file.path}?`)) return;
    state.files.splice(state.current, 1);
    state.current = Math.min(state.current, state.files.length - 1);
    renderTabs();
    showCurrentFile();
    changed();
    setStatus(`Deleted ${file.path}.`);
    $(`file-tab-${state.current}`)?.focus();
  }

  // ---- editor ----

  /** The current file's diagnostics as UTF-16 ranges of its text. */
  function computeRanges() {
    const file = currentFile();
    state.ranges = [];
    if (!file) return;
    const text = file.text;
    for (const d of state.diagnostics) {
      if (d.path !== file.path) continue;
      const start = offsetOf(text, d.line || 1, d.column || 1);
      let end = offsetOf(text, d.end_line || d.line || 1, d.end_column || d.column || 1);
      if (end < start) end = start;
      state.ranges.push({ start, end, severity: d.severity === 'error' ? 'error' : 'warning' });
    }
  }

  /** Moves the ranges along with an edit (until the next check replaces them). */
  function shiftRanges(oldText, newText) {
    let prefix = 0;
    const max = Math.min(oldText.length, newText.length);
    while (prefix < max && oldText.charCodeAt(prefix) === newText.charCodeAt(prefix)) prefix++;
    let suffix = 0;
    while (
      suffix < max - prefix &&
      oldText.charCodeAt(oldText.length - 1 - suffix) === newText.charCodeAt(newText.length - 1 - suffix)
    ) {
      suffix++;
    }
    const oldEnd = oldText.length - suffix;
    const delta = newText.length - oldText.length;
    for (const r of state.ranges) {
      if (r.start >= oldEnd) r.start += delta;
      else if (r.start > prefix) r.start = prefix;
      if (r.end >= oldEnd) r.end += delta;
      else if (r.end > prefix) r.end = Math.max(prefix, r.start);
      r.start = Math.max(0, Math.min(r.start, newText.length));
      r.end = Math.max(r.start, Math.min(r.end, newText.length));
    }
  }

  function renderEditorDecorations() {
    const text = editor.value;
    // Line numbers, with the lines that have diagnostics marked.
    const lineCount = text.split('\n').length;
    const marks = new Map(); // line -> {severity, messages}
    const file = currentFile();
    const diagnosticsHere = file ? state.diagnostics.filter((d) => d.path === file.path) : [];
    state.ranges.forEach((r, i) => {
      const line = lineOf(text, r.start);
      const d = diagnosticsHere[i];
      const m = marks.get(line) || { severity: 'warning', messages: [] };
      if (r.severity === 'error') m.severity = 'error';
      if (d) m.messages.push(`${d.severity}[${d.code}]: ${d.message}`);
      marks.set(line, m);
    });
    // Rebuilt only when the lines or their marks change (not on every key).
    const gutterKey = `${lineCount}|${JSON.stringify([...marks])}`;
    if (gutterKey !== state.gutterKey) {
      state.gutterKey = gutterKey;
      const fragment = document.createDocumentFragment();
      for (let line = 1; line <= lineCount; line++) {
        const m = marks.get(line);
        const ln = document.createElement('div');
        ln.className = m ? `ln ${m.severity}` : 'ln';
        ln.dataset.line = String(line);
        ln.textContent = String(line);
        if (m) ln.title = m.messages.join('\n');
        fragment.append(ln);
      }
      gutter.replaceChildren(fragment);
    }

    // The highlight layer under the (transparent) textarea.
    const ranges = state.ranges
      .map((r) => ({ ...r, end: r.end > r.start ? r.end : Math.min(r.start + 1, text.length) }))
      .filter((r) => r.end > r.start);
    const points = new Set([0, text.length]);
    for (const r of ranges) {
      points.add(r.start);
      points.add(r.end);
    }
    const sorted = [...points].sort((a, b) => a - b);
    const layer = document.createDocumentFragment();
    for (let i = 0; i + 1 < sorted.length; i++) {
      const a = sorted[i];
      const b = sorted[i + 1];
      const covering = ranges.filter((r) => r.start <= a && r.end >= b);
      const piece = text.slice(a, b);
      if (covering.length === 0) {
        layer.append(piece);
      } else {
        const severity = covering.some((r) => r.severity === 'error') ? 'error' : 'warning';
        layer.append(el('mark', { class: severity, text: piece }));
      }
    }
    // A trailing newline would collapse: keep the last line's height.
    layer.append('\n');
    backdrop.replaceChildren(layer);
    syncScroll();
  }

  function syncScroll() {
    gutter.scrollTop = editor.scrollTop;
    backdrop.scrollTop = editor.scrollTop;
    backdrop.scrollLeft = editor.scrollLeft;
  }

  function updateCursorPosition() {
    const { line, column } = lineColOf(editor.value, editor.selectionStart);
    $('cursor-position').textContent = `Line ${line}, column ${column}.`;
  }

  function onEditorInput() {
    const file = currentFile();
    if (!file) return;
    const text = editor.value;
    shiftRanges(state.lastText, text);
    state.lastText = text;
    file.text = text;
    renderEditorDecorations();
    updateCursorPosition();
    changed();
  }

  /** Replaces `start..end` of the editor's text, keeping the browser's undo history when it can. */
  function replaceText(start, end, insert) {
    editor.focus();
    editor.setSelectionRange(start, end);
    let done = false;
    try {
      done = document.execCommand('insertText', false, insert);
    } catch {
      done = false;
    }
    if (!done) {
      editor.setRangeText(insert, start, end, 'end');
      onEditorInput();
    }
  }

  function onEditorKeydown(event) {
    if (event.key === 'Escape') {
      state.escapePressed = true;
      return;
    }
    if ((event.ctrlKey || event.metaKey) && event.shiftKey && (event.key === 'F' || event.key === 'f')) {
      event.preventDefault();
      formatCurrent();
      return;
    }
    if (event.key === 'Tab' && !event.ctrlKey && !event.altKey && !event.metaKey) {
      if (state.escapePressed) {
        state.escapePressed = false;
        return; // let the focus move on
      }
      event.preventDefault();
      const { selectionStart: s, selectionEnd: e, value } = editor;
      const lineStart = value.lastIndexOf('\n', s - 1) + 1;
      if (s === e && !event.shiftKey) {
        replaceText(s, e, '  ');
        return;
      }
      // Indent or dedent the selected lines.
      const blockEnd = value.indexOf('\n', e - (e > s && value[e - 1] === '\n' ? 1 : 0));
      const stop = blockEnd < 0 ? value.length : blockEnd;
      const lines = value.slice(lineStart, stop).split('\n');
      const changedLines = event.shiftKey
        ? lines.map((l) => l.replace(/^ {1,2}/, ''))
        : lines.map((l) => (l.length ? `  ${l}` : l));
      const replacement = changedLines.join('\n');
      if (replacement !== value.slice(lineStart, stop)) replaceText(lineStart, stop, replacement);
      editor.setSelectionRange(lineStart, lineStart + replacement.length);
      return;
    }
    state.escapePressed = false;
    if (event.key === '}' && !event.ctrlKey && !event.metaKey && !event.altKey) {
      // A closing brace typed on an indented empty line goes one level out.
      const { selectionStart: s, selectionEnd: e, value } = editor;
      const lineStart = value.lastIndexOf('\n', s - 1) + 1;
      const before = value.slice(lineStart, s);
      if (s === e && /^ {2,}$/.test(before)) {
        event.preventDefault();
        replaceText(s - 2, s, '}');
      }
      return;
    }
    if (event.key === 'Enter' && !event.ctrlKey && !event.metaKey && !event.altKey) {
      // Keep the indentation of the line above.
      const { selectionStart: s, selectionEnd: e, value } = editor;
      const lineStart = value.lastIndexOf('\n', s - 1) + 1;
      const indent = /^[ \t]*/.exec(value.slice(lineStart, s))[0];
      const extra = /\{\s*$/.test(value.slice(lineStart, s)) ? '  ' : '';
      if (indent || extra) {
        event.preventDefault();
        replaceText(s, e, `\n${indent}${extra}`);
      }
    }
  }

  /** Puts the cursor at `line:column` of `path` (selecting up to the end position when given). */
  function goTo(path, line, column, endLine, endColumn) {
    const index = state.files.findIndex((f) => f.path === path);
    if (index < 0) {
      setStatus(`There is no file ${path} in the editor.`, 'error');
      return;
    }
    if (index !== state.current) selectFile(index);
    const text = editor.value;
    const start = offsetOf(text, line || 1, column || 1);
    let end = endLine ? offsetOf(text, endLine, endColumn || 1) : start;
    if (end < start) end = start;
    editor.focus();
    editor.setSelectionRange(start, end);
    // Scroll the line into view (a third from the top) and the column too.
    const lineHeight = parseFloat(getComputedStyle(editor).lineHeight) || 20;
    const target = ((line || 1) - 1) * lineHeight;
    if (target < editor.scrollTop || target > editor.scrollTop + editor.clientHeight - 2 * lineHeight) {
      editor.scrollTop = Math.max(0, target - editor.clientHeight / 3);
    }
    const charWidth = measureCharWidth();
    const x = ((column || 1) - 1) * charWidth;
    if (x < editor.scrollLeft || x > editor.scrollLeft + editor.clientWidth - 4 * charWidth) {
      editor.scrollLeft = Math.max(0, x - editor.clientWidth / 2);
    }
    syncScroll();
    updateCursorPosition();
  }

  let charWidthCache = 0;
  function measureCharWidth() {
    if (charWidthCache) return charWidthCache;
    const probe = el('span', { text: 'x'.repeat(100) });
    probe.style.visibility = 'hidden';
    backdrop.append(probe);
    charWidthCache = probe.getBoundingClientRect().width / 100 || 8;
    probe.remove();
    return charWidthCache;
  }

  // ---- checking ----

  const scheduleCheck = debounce(() => runCheck(), 250);

  /** Called after every change of the files. */
  function changed() {
    state.generation++;
    $('diagnostics').dataset.state = 'pending';
    scheduleCheck();
  }

  async function runCheck() {
    if (state.checkRunning) return; // it runs again when it sees the newer generation
    state.checkRunning = true;
    const generation = state.generation;
    try {
      const files = filesJson();
      const result = await engine.json('check', files);
      if (generation === state.generation) {
        applyCheck(result);
        if (result.ok && result.revision !== state.graphRevision) await drawGraph(files, result.revision, generation);
        else if (result.ok) markGraphCurrent();
        else markGraphStale();
      }
    } catch (err) {
      if (generation === state.generation) {
        $('diagnostics').dataset.state = 'failed';
        setStatus(`Checking failed: ${errorText(err)}`, 'error');
      }
    } finally {
      state.checkRunning = false;
      if (generation !== state.generation && !scheduleCheck.pending()) runCheck();
    }
  }

  function applyCheck(result) {
    const diagnostics = Array.isArray(result.diagnostics) ? result.diagnostics : [];
    state.diagnostics = diagnostics;
    computeRanges();
    renderEditorDecorations();
    renderTabs();
    renderDiagnostics(diagnostics);
    if (!result.ok && result.error) {
      // The files themselves could not be read (no .warden file, a path twice, …).
      $('diagnostics').prepend(
        el('li', { class: 'diagnostic error', dataset: { code: '', severity: 'error', path: '', testid: 'diagnostic' } },
          el('span', { class: 'sev-error', text: 'error' }), `: ${result.error}`),
      );
    }
    const errors = $('diagnostics').querySelectorAll('.diagnostic.error').length;
    const warnings = diagnostics.length - errors;
    const list = $('diagnostics');
    list.dataset.state = errors > 0 || !result.ok ? 'error' : 'ok';
    list.dataset.errors = String(errors);
    list.dataset.warnings = String(warnings);
    if (result.revision) list.dataset.revision = result.revision;
    else delete list.dataset.revision;
    const parts = [];
    parts.push(errors === 1 ? '1 error' : `${errors} errors`);
    parts.push(warnings === 1 ? '1 warning' : `${warnings} warnings`);
    const rev = result.revision ? `; revision ${String(result.revision).slice(0, 12)}` : '';
    $('diagnostics-summary').textContent = `(${parts.join(', ')}${rev})`;
    if (result.ok) {
      setStatus(`Compiles${warnings ? ` with ${parts[1]}` : ''}.`, 'ok');
      if (result.revision !== state.issuersRevision || !result.revision) {
        state.issuersRevision = result.revision;
        refreshIssuers();
      }
    } else {
      setStatus(`Does not compile: ${parts.join(', ')}.`, 'error');
    }
  }

  function renderDiagnostics(diagnostics) {
    const list = $('diagnostics');
    const order = new Map(state.files.map((f, i) => [f.path, i]));
    const sorted = [...diagnostics].sort(
      (a, b) =>
        (order.get(a.path) ?? 1e9) - (order.get(b.path) ?? 1e9) ||
        (a.line || 0) - (b.line || 0) ||
        (a.column || 0) - (b.column || 0),
    );
    list.replaceChildren(
      ...sorted.map((d) => {
        const severity = d.severity === 'error' ? 'error' : 'warning';
        const where = `${d.path}:${d.line}:${d.column}`;
        const known = order.has(d.path);
        const button = el(
          'button',
          {
            type: 'button',
            disabled: !known,
            title: known ? `Go to ${where}` : null,
            onclick: () => goTo(d.path, d.line, d.column, d.end_line, d.end_column),
          },
          el('span', { class: 'loc', text: `${where}: ` }),
          el('span', { class: `sev-${severity}`, text: `${severity}[${d.code}]` }),
          ` ${d.message}`,
          d.help ? el('span', { class: 'help', text: `help: ${d.help}` }) : null,
        );
        return el(
          'li',
          {
            class: `diagnostic ${severity}`,
            dataset: {
              code: d.code ?? '',
              severity,
              path: d.path ?? '',
              line: String(d.line ?? ''),
              column: String(d.column ?? ''),
              testid: 'diagnostic',
            },
          },
          button,
        );
      }),
    );
  }

  // ---- graph ----

  async function drawGraph(files, revision, generation) {
    const graph = $('graph');
    try {
      const result = await engine.json('graph_svg', files);
      if (generation !== state.generation) return;
      if (!result.ok || typeof result.svg !== 'string') {
        markGraphStale();
        return;
      }
      const svg = sanitizeSvg(result.svg);
      if (!svg) throw new Error('the graph is not a valid SVG picture');
      graph.replaceChildren(svg);
      graph.dataset.stale = 'false';
      graph.dataset.revision = revision || '';
      state.graphRevision = revision;
      $('graph-note').textContent = '';
    } catch (err) {
      markGraphStale();
      $('graph-note').textContent = `(cannot draw: ${errorText(err)})`;
    }
  }

  function markGraphCurrent() {
    const graph = $('graph');
    if (graph.dataset.stale === 'true') {
      graph.dataset.stale = 'false';
      $('graph-note').textContent = '';
    }
  }

  function markGraphStale() {
    const graph = $('graph');
    if (graph.querySelector('svg')) {
      graph.dataset.stale = 'true';
      $('graph-note').textContent = '(of the last version that compiled)';
    }
  }

  /**
   * Parses SVG text into an element without scripts, event handlers or foreign
   * content. Its `<style>` rules and `style` attributes go through the CSSOM
   * (a constructed sheet scoped to #graph), which a `style-src 'self'` policy allows.
   */
  function sanitizeSvg(text) {
    // The parsed document shares the page's policy: take the <style> elements
    // out before parsing, so that it does not refuse (and report) them.
    const css = [];
    const bare = text.replace(/<style\b[^>]*>([\s\S]*?)<\/style\s*>/gi, (_, rules) => {
      css.push(rules.replace(/<!\[CDATA\[|\]\]>/g, ''));
      return '';
    });
    const doc = new DOMParser().parseFromString(bare, 'image/svg+xml');
    const root = doc.documentElement;
    if (!root || root.nodeName.toLowerCase() !== 'svg' || doc.querySelector('parsererror')) return null;
    for (const bad of root.querySelectorAll('script, foreignObject, iframe, object, embed, style')) bad.remove();
    const inline = [];
    for (const node of [root, ...root.querySelectorAll('*')]) {
      for (const attr of [...node.attributes]) {
        const name = attr.name.toLowerCase();
        const value = attr.value.trim().toLowerCase();
        if (name.startsWith('on')) node.removeAttribute(attr.name);
        else if ((name === 'href' || name === 'xlink:href') && !value.startsWith('#')) node.removeAttribute(attr.name);
        else if (name === 'style') {
          inline.push([node, attr.value]);
          node.removeAttribute(attr.name);
        }
      }
    }
    const svg = document.importNode(root, true);
    // importNode keeps the order of elements: match the inline styles up again.
    if (inline.length) {
      const sources = [root, ...root.querySelectorAll('*')];
      const copies = [svg, ...svg.querySelectorAll('*')];
      for (const [node, value] of inline) {
        const copy = copies[sources.indexOf(node)];
        if (copy) copy.style.cssText = value;
      }
    }
    setGraphStyles(css.join('\n'));
    svg.setAttribute('role', 'img');
    if (!svg.getAttribute('aria-label')) svg.setAttribute('aria-label', 'Decision graph');
    return svg;
  }

  let graphSheet = null;
  /** The graph's own CSS, every selector scoped to #graph so it styles nothing else. */
  function setGraphStyles(css) {
    if (!('adoptedStyleSheets' in document) || typeof CSSStyleSheet === 'undefined') return;
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
      for (const rule of [...sheet.cssRules]) {
        if (rule instanceof CSSStyleRule) {
          rule.selectorText = rule.selectorText
            .split(',')
            .map((selector) => `#graph ${selector.trim()}`)
            .join(', ');
        }
      }
      document.adoptedStyleSheets = [...document.adoptedStyleSheets.filter((s) => s !== graphSheet), sheet];
      graphSheet = sheet;
    } catch (err) {
      console.warn('the graph styles cannot be applied', err);
    }
  }

  // ---- format ----

  async function formatCurrent() {
    const file = currentFile();
    if (!file) return;
    if (file.path.endsWith('.json') && !isWarden(file.path)) {
      try {
        const pretty = `${JSON.stringify(JSON.parse(editor.value), null, 2)}\n`;
        if (pretty !== editor.value) replaceWhole(pretty);
        setStatus(`Formatted ${file.path}.`, 'ok');
      } catch (err) {
        setStatus(`${file.path} is not valid JSON: ${errorText(err)}`, 'error');
      }
      return;
    }
    if (!isWarden(file.path)) {
      setStatus('Only .warden and .json files can be formatted.', 'error');
      return;
    }
    const button = $('format');
    button.disabled = true;
    try {
      const generation = state.generation;
      const result = await engine.json('format', file.text);
      if (generation !== state.generation || currentFile() !== file) {
        setStatus('The file changed while formatting; try again.');
        return;
      }
      if (result.ok && typeof result.text === 'string') {
        if (result.text !== file.text) {
          replaceWhole(result.text);
          setStatus(`Formatted ${file.path}.`, 'ok');
        } else {
          setStatus(`${file.path} is already formatted.`, 'ok');
        }
      } else {
        const first = (result.diagnostics || [])[0];
        const why = first ? `: ${first.line}:${first.column}: ${first.message}` : '';
        setStatus(`Cannot format ${file.path} while it has errors${why}`, 'error');
        if (first) goTo(file.path, first.line, first.column);
      }
    } catch (err) {
      setStatus(`Formatting failed: ${errorText(err)}`, 'error');
    } finally {
      button.disabled = false;
    }
  }

  /** Replaces the whole text of the current file, keeping the cursor on the same line. */
  function replaceWhole(text) {
    const { line } = lineColOf(editor.value, editor.selectionStart);
    const scrollTop = editor.scrollTop;
    replaceText(0, editor.value.length, text);
    const offset = offsetOf(text, line, 1);
    editor.setSelectionRange(offset, offset);
    editor.scrollTop = scrollTop;
    syncScroll();
    updateCursorPosition();
  }

  // ---- tests ----

  async function runTests() {
    const button = $('run-tests');
    const results = $('test-results');
    button.disabled = true;
    results.dataset.state = 'running';
    $('test-summary').textContent = 'Running…';
    try {
      const result = await engine.json('run_tests', filesJson());
      renderTests(result);
    } catch (err) {
      results.dataset.state = 'failed';
      results.replaceChildren();
      $('test-summary').textContent = `Could not run the tests: ${errorText(err)}`;
    } finally {
      button.disabled = false;
    }
  }

  function locationButton(text) {
    // `file:line:col: message`
    const match = /^(.+?):(\d+):(\d+):\s?([\s\S]*)$/.exec(text);
    if (!match || !state.files.some((f) => f.path === match[1])) {
      return el('span', { class: 'failure-text', text });
    }
    const [, path, line, column, rest] = match;
    return el(
      'span',
      { class: 'failure-text' },
      el('button', {
        type: 'button',
        class: 'linkish',
        text: `${path}:${line}:${column}`,
        onclick: () => goTo(path, Number(line), Number(column)),
      }),
      `: ${rest}`,
    );
  }

  function renderTests(result) {
    const list = $('test-results');
    const tests = Array.isArray(result.results) ? result.results : [];
    const diagnostics = Array.isArray(result.diagnostics) ? result.diagnostics : [];
    const failed = tests.filter((t) => Array.isArray(t.failures) && t.failures.length > 0).length;
    const passed = tests.length - failed;
    list.replaceChildren(
      ...tests.map((t) => {
        const failures = Array.isArray(t.failures) ? t.failures : [];
        const ok = failures.length === 0;
        return el(
          'li',
          { class: 'test-result', dataset: { status: ok ? 'pass' : 'fail', name: t.name, testid: 'test-result' } },
          el('span', { class: 'mark', text: ok ? 'pass' : 'FAIL' }),
          el('span', { class: 'name', text: t.name }),
          ' ',
          el('span', { class: 'file', text: t.file ? `(${t.file})` : '' }),
          ok ? null : el('ul', { class: 'failures' }, failures.map((f) => el('li', {}, locationButton(String(f))))),
        );
      }),
    );
    list.dataset.passed = String(passed);
    list.dataset.failed = String(failed);
    const errors = diagnostics.filter((d) => d.severity === 'error');
    let summary;
    if (!result.ok && result.error && tests.length === 0) {
      summary = errors.length
        ? `${result.error} (${errors.length} error${errors.length === 1 ? '' : 's'}): fix the diagnostics first.`
        : `Cannot run the tests: ${result.error}.`;
      list.dataset.state = 'error';
    } else if (errors.length > 0 && tests.length === 0) {
      summary = `The policies do not compile (${errors.length} error${errors.length === 1 ? '' : 's'}): fix the diagnostics first.`;
      list.dataset.state = 'error';
    } else if (tests.length === 0) {
      summary = 'No tests: write `test "…" { … }` blocks (see the examples).';
      list.dataset.state = 'done';
    } else {
      summary = `${passed} passed, ${failed} failed`;
      list.dataset.state = 'done';
    }
    $('test-summary').textContent = summary;
    setStatus(`Tests: ${summary}`, failed || errors.length ? 'error' : 'ok');
    renderCoverage(Array.isArray(result.coverage) ? result.coverage : []);
  }

  function renderCoverage(items) {
    const box = $('coverage');
    if (items.length === 0) {
      box.replaceChildren(el('p', { class: 'hint', text: 'No coverage information.' }));
      $('coverage-summary').textContent = '';
      box.dataset.covered = '0';
      box.dataset.total = '0';
      return;
    }
    const kinds = [
      ['endpoint', 'Endpoints'],
      ['rule', 'Rules'],
    ];
    const other = items.filter((i) => !kinds.some(([k]) => k === i.kind));
    if (other.length) kinds.push(['other', 'Other']);
    const sections = [];
    const summaryParts = [];
    for (const [kind, title] of kinds) {
      const group = kind === 'other' ? other : items.filter((i) => i.kind === kind);
      if (group.length === 0) continue;
      const covered = group.filter((i) => i.covered).length;
      summaryParts.push(`${title.toLowerCase()} ${covered}/${group.length}`);
      // Not covered first: those are what to look at.
      const sorted = [...group].sort((a, b) => Number(a.covered) - Number(b.covered));
      sections.push(
        el('h4', { text: `${title}: ${covered} of ${group.length} covered` }),
        el(
          'ul',
          {},
          sorted.map((i) =>
            el(
              'li',
              {
                class: 'coverage-item',
                dataset: { covered: i.covered ? 'true' : 'false', kind: i.kind, id: i.id, testid: 'coverage-item' },
              },
              el('span', { class: 'state', text: i.covered ? '✓ covered' : '✗ not covered' }),
              el('span', { class: 'id', text: i.id }),
              i.file && state.files.some((f) => f.path === i.file)
                ? el('button', {
                    type: 'button',
                    class: 'linkish',
                    text: `${i.file}:${i.line}`,
                    onclick: () => goTo(i.file, i.line || 1, 1),
                  })
                : el('span', { class: 'file', text: i.file ? `${i.file}:${i.line}` : '' }),
            ),
          ),
        ),
      );
    }
    box.replaceChildren(...sections);
    const covered = items.filter((i) => i.covered).length;
    box.dataset.covered = String(covered);
    box.dataset.total = String(items.length);
    $('coverage-summary').textContent = `(${summaryParts.join(', ')})`;
  }

  // ---- issuers and claims ----

  async function refreshIssuers() {
    try {
      const issuers = await engine.json('issuers', filesJson());
      if (!Array.isArray(issuers)) return;
      const key = JSON.stringify(issuers);
      if (key === JSON.stringify(state.issuers)) return;
      state.issuers = issuers;
      renderIssuers();
    } catch (err) {
      console.warn('issuers failed', err);
    }
  }

  function issuerChoices() {
    const choices = [];
    for (const issuer of state.issuers) {
      const audiences = Array.isArray(issuer.audiences) && issuer.audiences.length ? issuer.audiences : [null];
      for (const aud of audiences) choices.push({ iss: issuer.iss, aud });
    }
    return choices;
  }

  function renderIssuers() {
    const select = $('issuer');
    const previous = select.value;
    const choices = issuerChoices();
    select.replaceChildren(
      ...choices.map((c, i) =>
        el('option', { value: String(i), text: c.aud ? `${c.iss} — audience ${c.aud}` : c.iss }),
      ),
    );
    if (choices.length === 0) select.append(el('option', { value: '', text: 'No issuers in these policies' }));
    if (previous && Number(previous) < choices.length) select.value = previous;
    select.disabled = choices.length === 0;
    $('fill-claims').disabled = choices.length === 0;
  }

  /** Writes the chosen issuer and audience into the claims (the user asked for it). */
  function fillClaims() {
    const choices = issuerChoices();
    const choice = choices[Number($('issuer').value) || 0];
    if (!choice) return;
    const textarea = $('claims');
    let claims = {};
    const current = textarea.value.trim();
    if (current) {
      try {
        claims = JSON.parse(current);
      } catch {
        claims = null;
      }
      if (!claims || typeof claims !== 'object' || Array.isArray(claims)) {
        $('claims-error').textContent = 'The claims are not a JSON object; fix them first.';
        return;
      }
    } else {
      claims = defaultClaims();
    }
    const { iss: _iss, aud: _aud, ...rest } = claims;
    claims = { iss: choice.iss, ...(choice.aud ? { aud: choice.aud } : {}), ...rest };
    textarea.value = JSON.stringify(claims, null, 2);
    $('claims-error').textContent = '';
  }

  function defaultClaims() {
    const preset = PRESETS[state.example];
    return { ...(preset && preset.claims ? preset.claims : { sub: 'user-1' }) };
  }

  function applyPreset(name) {
    const preset = PRESETS[name];
    state.issuers = [];
    state.issuersRevision = undefined;
    renderIssuers();
    $('claims').value = JSON.stringify(defaultClaims(), null, 2);
    $('request-headers').value = '';
    $('request-body').value = '';
    const request = preset || NO_PRESET;
    $('request-method').value = request.method;
    $('request-url').value = request.url;
    $('source-ip').value = request.sourceIp || '';
  }

  // ---- request ----

  function parseHeaders(text) {
    const headers = {};
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i].trim();
      if (!line || line.startsWith('#')) continue;
      const colon = line.indexOf(':', line.startsWith(':') ? 1 : 0);
      if (colon <= 0) throw new Error(`line ${i + 1}: write \`name: value\``);
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (!/^:?[!#$%&'*+.^_`|~0-9a-z-]+$/.test(name)) throw new Error(`line ${i + 1}: ${name} is not a header name`);
      headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
    }
    return headers;
  }

  async function send(event) {
    event?.preventDefault();
    $('request-headers-error').textContent = '';
    $('claims-error').textContent = '';
    let headers;
    try {
      headers = parseHeaders($('request-headers').value);
    } catch (err) {
      $('request-headers-error').textContent = `Headers: ${errorText(err)}`;
      $('request-headers').focus();
      return;
    }
    let claims = null;
    const claimsText = $('claims').value.trim();
    if (claimsText) {
      try {
        claims = JSON.parse(claimsText);
      } catch (err) {
        $('claims-error').textContent = `Claims: not valid JSON (${errorText(err)})`;
        $('claims').focus();
        return;
      }
      if (!claims || typeof claims !== 'object' || Array.isArray(claims)) {
        $('claims-error').textContent = 'Claims: write a JSON object, as in {"sub": "u-1"}';
        $('claims').focus();
        return;
      }
    }
    const body = $('request-body').value;
    const sourceIp = $('source-ip').value.trim();
    const request = {
      method: $('request-method').value,
      url: $('request-url').value.trim(),
      headers,
      body: body === '' ? null : body,
      claims,
      source_ip: sourceIp === '' ? null : sourceIp,
    };
    const decision = $('decision');
    const button = $('send');
    button.disabled = true;
    decision.dataset.state = 'running';
    try {
      const result = await engine.json('decide', filesJson(), JSON.stringify(request));
      renderDecision(result, claims !== null);
    } catch (err) {
      renderDecision({ ok: false, error: errorText(err), diagnostics: [] }, claims !== null);
    } finally {
      button.disabled = false;
    }
  }

  function renderDecision(result, withClaims = false) {
    const box = $('decision');
    for (const key of ['allow', 'reason', 'status', 'rule', 'error']) delete box.dataset[key];
    if (!result.ok || !result.decision) {
      box.dataset.state = 'error';
      box.dataset.error = 'true';
      const errors = (result.diagnostics || []).filter((d) => d.severity === 'error');
      const children = [
        el('p', { class: 'verdict', text: 'No decision' }),
        el('p', { text: result.error || 'The request could not be decided.' }),
      ];
      if (errors.length) {
        children.push(
          el(
            'ul',
            {},
            errors.slice(0, 10).map((d) => el('li', { class: 'mono', text: `${d.path}:${d.line}:${d.column}: ${d.message}` })),
          ),
        );
      }
      if (withClaims && state.issuers.length === 0) {
        children.push(
          el('p', {
            class: 'hint',
            text: 'These policies trust no token issuer, so no token can be made for them: press “No token” to send the request without one.',
          }),
        );
      }
      box.replaceChildren(...children);
      setStatus(`No decision: ${result.error || 'see the decision panel'}`, 'error');
      return;
    }
    const d = result.decision;
    const allow = d.allow === true;
    box.dataset.state = 'done';
    box.dataset.allow = allow ? 'true' : 'false';
    box.dataset.reason = d.reason ?? '';
    box.dataset.status = String(d.status ?? '');
    if (d.rule) box.dataset.rule = d.rule;
    const rows = [
      ['Status', String(d.status ?? '')],
      ['Reason', d.reason ?? ''],
      ['Rule', d.rule ?? '—'],
    ];
    if (d.detail) rows.push(['Detail', d.detail]);
    const headers = d.headers && typeof d.headers === 'object' ? Object.entries(d.headers) : [];
    const children = [
      el('p', { class: `verdict ${allow ? 'allow' : 'deny'}`, text: allow ? 'Allowed' : 'Denied' }),
      el(
        'dl',
        { class: 'kv' },
        rows.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v, dataset: { field: k.toLowerCase() } })]),
      ),
    ];
    if (headers.length) {
      children.push(
        el('h4', { text: allow ? 'Headers for the upstream' : 'Headers of the answer' }),
        el(
          'table',
          { class: 'headers' },
          el('thead', {}, el('tr', {}, el('th', { scope: 'col', text: 'Name' }), el('th', { scope: 'col', text: 'Value' }))),
          el(
            'tbody',
            {},
            headers.map(([name, value]) =>
              el('tr', {}, el('td', { text: name }), el('td', { text: Array.isArray(value) ? value.join(', ') : String(value) })),
            ),
          ),
        ),
      );
    }
    if (result.token) {
      const payload = decodeJwtPayload(result.token);
      children.push(
        el(
          'details',
          {},
          el('summary', { text: 'Token sent (authorization: Bearer …)' }),
          payload ? el('pre', { class: 'json', text: JSON.stringify(payload, null, 2) }) : null,
          el('code', { id: 'token', class: 'token', 'data-testid': 'token', text: result.token }),
        ),
      );
    } else {
      children.push(el('p', { class: 'hint', text: 'No token was sent.' }));
    }
    box.replaceChildren(...children);
    setStatus(`${allow ? 'Allowed' : 'Denied'}: ${d.status} ${d.reason}`, allow ? 'ok' : 'info');
  }

  // ---- examples ----

  let examples = [];

  async function loadExamples() {
    try {
      const list = await engine.json('examples');
      examples = Array.isArray(list) ? list.filter((e) => e && e.name && Array.isArray(e.files)) : [];
    } catch (err) {
      examples = [];
      setStatus(`Could not load the examples: ${errorText(err)}`, 'error');
    }
    const select = $('examples');
    select.replaceChildren(
      el('option', { value: '', text: '(your files)', disabled: true }),
      ...examples.map((e) => el('option', { value: e.name, text: e.name })),
    );
    select.disabled = examples.length === 0;
  }

  function loadExample(name) {
    const example = examples.find((e) => e.name === name);
    if (!example) return false;
    state.example = name;
    $('examples').value = name;
    // Policies first, then their tests, then the files they read.
    const group = (p) => (isWarden(p) ? (p.startsWith('tests/') ? 1 : 0) : 2);
    const files = [...example.files].sort(
      (a, b) => group(a.path) - group(b.path) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0),
    );
    setFiles(files, { select: preferredFile(files) });
    applyPreset(name);
    resetResults();
    setStatus(`Loaded the ${name} example.`);
    return true;
  }

  function resetResults() {
    const results = $('test-results');
    results.replaceChildren();
    delete results.dataset.state;
    $('test-summary').textContent = '';
    $('coverage').replaceChildren(el('p', { class: 'hint', text: 'Run the tests to see which endpoints and rules they reach.' }));
    $('coverage-summary').textContent = '';
    const decision = $('decision');
    for (const key of Object.keys(decision.dataset)) delete decision.dataset[key];
    decision.replaceChildren(el('p', { class: 'hint', text: 'Send a request to see what the policies decide.' }));
    $('graph').replaceChildren(el('p', { class: 'hint', text: 'The graph appears once the files compile.' }));
    delete $('graph').dataset.revision;
    $('graph-note').textContent = '';
  }

  // ---- sharing ----

  async function share() {
    try {
      const encoded = await encodeFiles(state.files);
      const url = new URL(window.location.href);
      url.hash = `files=${encoded}`;
      history.replaceState(null, '', url.href);
      state.loadedHash = url.hash;
      const field = $('share-url');
      field.value = url.href;
      field.focus();
      field.select();
      let copied = false;
      try {
        if (navigator.clipboard && window.isSecureContext) {
          await navigator.clipboard.writeText(url.href);
          copied = true;
        }
      } catch {
        copied = false;
      }
      const size = url.href.length > 1024 ? `${Math.round(url.href.length / 1024)} KiB` : `${url.href.length} characters`;
      setStatus(
        `${copied ? 'Copied a link' : 'The link is in the field above and in the address bar'} (${size}); the files are inside it.`,
        'ok',
      );
      if (url.href.length > 2_000_000) setStatus('The link is very long; some browsers may cut it.', 'error');
    } catch (err) {
      setStatus(`Cannot make a link: ${errorText(err)}`, 'error');
    }
  }

  async function loadFromHash({ atStart = false } = {}) {
    const hash = window.location.hash;
    if (!hash.startsWith('#files=')) return false;
    try {
      const files = await decodeFiles(hash.slice('#files='.length));
      state.example = null;
      $('examples').value = '';
      setFiles(files, { select: preferredFile(files) });
      applyPreset(null);
      resetResults();
      state.loadedHash = hash;
      $('share-url').value = window.location.href;
      setStatus(`Loaded ${files.length} file${files.length === 1 ? '' : 's'} from the link.`);
      return true;
    } catch (err) {
      const why = err instanceof DOMException || err instanceof TypeError ? 'it is damaged or cut short' : errorText(err);
      let then = 'keeping the files you had';
      if (atStart) then = examples.length ? 'showing an example instead' : 'starting empty';
      showNotice(`Cannot read the files in the link (${why}); ${then}.`);
      return false;
    }
  }

  // ---- wiring ----

  function wire() {
    editor.addEventListener('input', onEditorInput);
    editor.addEventListener('keydown', onEditorKeydown);
    editor.addEventListener('scroll', syncScroll);
    for (const type of ['keyup', 'click', 'select']) editor.addEventListener(type, updateCursorPosition);
    $('add-file').addEventListener('click', addFile);
    $('delete-file').addEventListener('click', deleteFile);
    $('rename-file').addEventListener('click', renameFile);
    $('file-path').addEventListener('keydown', (event) => {
      if (event.key === 'Enter') {
        event.preventDefault();
        renameFile();
      } else if (event.key === 'Escape') {
        $('file-path').value = currentFile()?.path ?? '';
        $('file-path-error').textContent = '';
      }
    });
    $('format').addEventListener('click', formatCurrent);
    $('run-tests').addEventListener('click', runTests);
    $('request-form').addEventListener('submit', send);
    for (const id of ['request-url', 'source-ip']) {
      $(id).addEventListener('keydown', (event) => {
        if (event.key === 'Enter') send(event);
      });
    }
    $('fill-claims').addEventListener('click', fillClaims);
    $('clear-claims').addEventListener('click', () => {
      $('claims').value = '';
      $('claims-error').textContent = '';
    });
    $('examples').addEventListener('change', (event) => loadExample(event.target.value));
    $('share').addEventListener('click', share);
    $('graph-fit').addEventListener('change', (event) => {
      $('graph').classList.toggle('fit', event.target.checked);
    });
    $('notice-close').addEventListener('click', () => {
      $('notice').hidden = true;
    });
    window.addEventListener('hashchange', () => {
      if (window.location.hash !== state.loadedHash) loadFromHash();
    });
    if (typeof ResizeObserver !== 'undefined') new ResizeObserver(syncScroll).observe(editor);
  }

  async function start() {
    wire();
    try {
      await engine.start();
    } catch (err) {
      setStatus(`Could not load the Warden compiler (WebAssembly): ${errorText(err)}`, 'error');
      document.body.dataset.ready = 'error';
      return;
    }
    await loadExamples();
    const fromLink = await loadFromHash({ atStart: true });
    if (!fromLink && examples.length > 0) loadExample(examples[0].name);
    if (!fromLink && examples.length === 0) setFiles([{ path: 'main.warden', text: '' }]);
    for (const id of ['share', 'run-tests', 'send']) $(id).disabled = false;
    document.body.dataset.ready = 'true';
  }

  start();
}

// ---------------------------------------------------------------------------
// Entry point (last, once every declaration above is initialised)
// ---------------------------------------------------------------------------

if (typeof document === 'undefined') {
  workerMain();
} else {
  pageMain();
}
