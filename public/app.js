// redbin front-end: progressive enhancements only. Every page works without this file,
// except copying and line-range selection. Each feature runs only if its elements exist.
document.documentElement.classList.add('js');

(() => {
  'use strict';

  const $ = (selector, root = document) => root.querySelector(selector);
  const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

  // Controls that only work with JS are rendered disabled by the server.
  for (const el of $$('.needs-js')) el.disabled = false;

  // localStorage throws in some privacy modes; a preference that cannot be stored is simply not remembered.
  const store = {
    get(key) {
      try { return window.localStorage.getItem('redbin:' + key); } catch { return null; }
    },
    set(key, value) {
      try { window.localStorage.setItem('redbin:' + key, value); } catch { /* not remembered */ }
    },
  };

  const formatBytes = (n) => {
    if (n >= 1048576) return +(n / 1048576).toFixed(1) + ' MiB';
    if (n >= 1024) return +(n / 1024).toFixed(1) + ' KiB';
    return n + ' B';
  };

  // ---------- clipboard ----------

  const copyWithSelection = (text) => {
    const area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.className = 'visually-hidden';
    const previous = document.activeElement;
    document.body.appendChild(area);
    area.select();
    let ok = false;
    try { ok = document.execCommand('copy'); } catch { ok = false; }
    area.remove();
    if (previous && typeof previous.focus === 'function') previous.focus();
    return ok ? Promise.resolve() : Promise.reject(new Error('copy failed'));
  };

  const copyText = (text) => {
    if (navigator.clipboard && navigator.clipboard.writeText) {
      return navigator.clipboard.writeText(text).catch(() => copyWithSelection(text));
    }
    return copyWithSelection(text);
  };

  const status = $('#copy-status');
  const feedbackTimers = new WeakMap();
  const feedback = (button, message) => {
    if (!button.dataset.label) button.dataset.label = button.textContent;
    button.textContent = message;
    button.classList.toggle('copied', message === 'Copied!');
    if (status) status.textContent = message;
    clearTimeout(feedbackTimers.get(button));
    feedbackTimers.set(button, setTimeout(() => {
      button.textContent = button.dataset.label;
      button.classList.remove('copied');
      if (status) status.textContent = '';
    }, 2000));
  };

  // The code as shown; a paste too long for per-line markup is a single plain block. A line is a
  // span#L<n> in the code element, its number link empty (the number is CSS).
  const codeText = () => {
    const lines = $$('#code code > span[id]');
    if (lines.length) return lines.map((el) => el.textContent).join('\n');
    const block = $('#code code');
    return block ? block.textContent : '';
  };

  // The encrypted paste page (a module: encrypted-page.js) copies with these too.
  window.redbinUi = { copyText, feedback };

  const copyButton = $('#copy-btn');
  if (copyButton) {
    copyButton.addEventListener('click', () => {
      const rawUrl = copyButton.dataset.rawUrl;
      let done;
      if (copyButton.dataset.burn === '1' || !rawUrl) {
        // A burned paste's raw URL is gone once revealed: the page holds the only copy.
        done = copyText(codeText());
      } else if (window.ClipboardItem && navigator.clipboard && navigator.clipboard.write) {
        // Passing a promise to ClipboardItem keeps the click's user activation while we fetch.
        const blob = fetch(rawUrl, { credentials: 'same-origin' })
          .then((res) => {
            if (!res.ok) throw new Error('HTTP ' + res.status);
            return res.text();
          })
          .then((text) => new Blob([text], { type: 'text/plain' }));
        done = navigator.clipboard
          .write([new window.ClipboardItem({ 'text/plain': blob })])
          .catch(() => blob.then((b) => b.text()).then(copyText));
      } else {
        done = fetch(rawUrl, { credentials: 'same-origin' })
          .then((res) => (res.ok ? res.text() : codeText()))
          .catch(() => codeText())
          .then(copyText);
      }
      done.then(() => feedback(copyButton, 'Copied!'), () => feedback(copyButton, 'Copy failed'));
    });
  }

  const copyLinkButton = $('#copy-link-btn');
  if (copyLinkButton) {
    copyLinkButton.addEventListener('click', () => {
      copyText(copyLinkButton.dataset.url || window.location.href.replace(/#.*$/, ''))
        .then(() => feedback(copyLinkButton, 'Copied!'), () => feedback(copyLinkButton, 'Copy failed'));
    });
  }

  // ---------- line selection ----------

  const code = $('#code');
  if (code) {
    let anchor = null;
    // An encrypted paste's fragment is "<key>/L10-L20": the line anchor follows the key
    // (docs/encryption.md). Elsewhere the whole fragment is the anchor.
    const keyed = code.dataset.keyedFragment === '1';
    const splitHash = (hash) => {
      const fragment = hash.replace(/^#/, '');
      const at = fragment.indexOf('/');
      if (!keyed) return { key: '', lines: fragment };
      return at < 0 ? { key: fragment, lines: '' } : { key: fragment.slice(0, at), lines: fragment.slice(at + 1) };
    };

    const parseHash = (hash) => {
      const m = /^L(\d+)(?:-L?(\d+))?$/.exec(splitHash(hash).lines);
      if (!m) return null;
      const a = Number(m[1]);
      const b = m[2] ? Number(m[2]) : a;
      return a <= b ? [a, b] : [b, a];
    };

    const highlight = (range, scroll) => {
      $$('code > span.hl', code).forEach((el) => el.classList.remove('hl'));
      if (!range) return;
      const first = document.getElementById('L' + range[0]);
      if (!first) return;
      for (let n = range[0]; n <= range[1]; n++) {
        const line = document.getElementById('L' + n);
        if (!line) break;
        line.classList.add('hl');
      }
      if (scroll) first.scrollIntoView({ block: 'center' });
    };

    const fromLocation = (scroll) => {
      const range = parseHash(window.location.hash);
      anchor = range ? range[0] : null;
      highlight(range, scroll);
    };

    // A line number: the link that opens a line (span#L<n>).
    const lineLink = (target) => {
      const link = target.closest('a');
      return link && link.parentElement && /^L\d+$/.test(link.parentElement.id) && code.contains(link) ? link : null;
    };

    code.addEventListener('mousedown', (event) => {
      // Shift-click would otherwise extend the text selection.
      if (event.shiftKey && lineLink(event.target)) event.preventDefault();
    });

    code.addEventListener('click', (event) => {
      const link = lineLink(event.target);
      if (!link || event.ctrlKey || event.metaKey || event.altKey || event.button !== 0) return;
      event.preventDefault();
      const n = Number(link.parentElement.id.slice(1));
      let range;
      if (event.shiftKey && anchor !== null) {
        range = anchor <= n ? [anchor, n] : [n, anchor];
      } else {
        range = [n, n];
        anchor = n;
      }
      const lines = range[0] === range[1] ? 'L' + range[0] : 'L' + range[0] + '-L' + range[1];
      const key = splitHash(window.location.hash).key;
      history.replaceState(history.state, '', '#' + (key ? key + '/' : '') + lines);
      highlight(range, false);
    });

    window.addEventListener('hashchange', () => fromLocation(true));
    // An encrypted paste's lines arrive once it is decrypted.
    code.addEventListener('redbin:code-ready', () => fromLocation(true));
    fromLocation(true);
  }

  // ---------- wrap toggle ----------

  const wrapButton = $('#wrap-btn');
  const codeWrap = $('.code-wrap');
  if (wrapButton && codeWrap) {
    const setWrap = (on) => {
      codeWrap.classList.toggle('wrap', on);
      wrapButton.setAttribute('aria-pressed', String(on));
    };
    setWrap(store.get('wrap') === '1');
    wrapButton.addEventListener('click', () => {
      const on = !codeWrap.classList.contains('wrap');
      setWrap(on);
      store.set('wrap', on ? '1' : '0');
    });
  }

  // ---------- relative times ----------

  const times = $$('time.rel[datetime]');
  if (times.length && window.Intl && Intl.RelativeTimeFormat) {
    const rtf = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
    const units = [
      ['year', 365 * 24 * 3600],
      ['month', 30 * 24 * 3600],
      ['week', 7 * 24 * 3600],
      ['day', 24 * 3600],
      ['hour', 3600],
      ['minute', 60],
    ];
    const relative = (date) => {
      const seconds = (date.getTime() - Date.now()) / 1000;
      const abs = Math.abs(seconds);
      if (abs < 45) return 'just now';
      for (const [unit, size] of units) {
        if (abs >= size * 0.9 || unit === 'minute') {
          return rtf.format(Math.round(seconds / size), unit);
        }
      }
      return 'just now';
    };
    const update = () => {
      for (const el of times) {
        const date = new Date(el.getAttribute('datetime'));
        if (Number.isNaN(date.getTime())) continue;
        el.textContent = relative(date);
        el.title = date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
      }
    };
    update();
    setInterval(update, 30000);
  }

  // ---------- new-paste form ----------

  const form = $('#paste-form');
  const editor = form && form.elements.namedItem('content');
  if (form && editor) {
    const expires = form.elements.namedItem('expires');
    const visibility = $$('input[name="visibility"]', form);
    const submit = $('button[type="submit"]', form);
    // The create and edit forms share this editor; each names its button's busy state.
    const idleLabel = submit ? submit.textContent : '';

    // The keyboard help is only true when this script runs, so only then does it describe the editor.
    if ($('#editor-help')) editor.setAttribute('aria-describedby', 'byte-count editor-help');

    if (form.dataset.prefilled !== '1') {
      const savedExpires = store.get('expires');
      if (expires && savedExpires && $$('option', expires).some((o) => o.value === savedExpires)) {
        expires.value = savedExpires;
      }
      const savedVisibility = store.get('visibility');
      for (const radio of visibility) {
        if (savedVisibility && radio.value === savedVisibility) radio.checked = true;
      }
    }

    // Live size in UTF-8 bytes, as the server counts it.
    const counter = $('#byte-count');
    const maxBytes = Number(form.dataset.maxBytes) || 0;
    if (counter && maxBytes && window.TextEncoder) {
      const encoder = new TextEncoder();
      let pending = false;
      const updateCount = () => {
        pending = false;
        const bytes = encoder.encode(editor.value).length;
        const over = bytes > maxBytes;
        // Rounded sizes alone would read "1 MiB of 1 MiB" just over the limit: say by how much.
        counter.textContent = formatBytes(bytes) + ' of ' + formatBytes(maxBytes) + (over ? ' — ' + formatBytes(bytes - maxBytes) + ' too large' : '');
        counter.classList.toggle('over', over);
        if (over) editor.setAttribute('aria-invalid', 'true');
        else editor.removeAttribute('aria-invalid');
      };
      editor.addEventListener('input', () => {
        if (!pending) {
          pending = true;
          requestAnimationFrame(updateCount);
        }
      });
      updateCount();
    }

    // Replace the textarea's [start, end) with text, keeping the browser's undo history when possible.
    const replaceRange = (start, end, text) => {
      editor.setSelectionRange(start, end);
      let ok = false;
      try { ok = document.execCommand('insertText', false, text); } catch { ok = false; }
      if (!ok || editor.value.slice(start, start + text.length) !== text) {
        editor.setRangeText(text, start, end, 'end');
        editor.dispatchEvent(new Event('input', { bubbles: true }));
      }
    };

    const indent = (dedent) => {
      const value = editor.value;
      const start = editor.selectionStart;
      const end = editor.selectionEnd;
      const selected = value.slice(start, end);
      if (!dedent && !selected.includes('\n')) {
        replaceRange(start, end, '\t');
        return;
      }
      const lineStart = value.lastIndexOf('\n', start - 1) + 1;
      // A selection ending right after a newline does not include the next line.
      const lastChar = end > start && value[end - 1] === '\n' ? end - 1 : end;
      let lineEnd = value.indexOf('\n', lastChar);
      if (lineEnd === -1) lineEnd = value.length;
      const lines = value.slice(lineStart, lineEnd).split('\n');
      let firstDelta = 0;
      let totalDelta = 0;
      const changed = lines.map((line, i) => {
        let next;
        if (dedent) {
          const m = /^(\t| {1,4})/.exec(line);
          next = m ? line.slice(m[0].length) : line;
        } else {
          next = '\t' + line;
        }
        const delta = next.length - line.length;
        if (i === 0) firstDelta = delta;
        totalDelta += delta;
        return next;
      });
      const block = changed.join('\n');
      if (totalDelta === 0) return;
      replaceRange(lineStart, lineEnd, block);
      const newStart = Math.max(lineStart, start + firstDelta);
      const newEnd = Math.max(newStart, end + totalDelta);
      if (selected) editor.setSelectionRange(newStart, newEnd);
      else editor.setSelectionRange(newStart, newStart);
    };

    // Tab indents; after Esc, the next Tab leaves the editor so keyboard users are never trapped.
    let tabLeaves = false;
    editor.addEventListener('focus', () => { tabLeaves = false; });
    editor.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') {
        tabLeaves = true;
        return;
      }
      if (event.key === 'Tab' && !event.ctrlKey && !event.altKey && !event.metaKey) {
        if (tabLeaves) {
          tabLeaves = false;
          return;
        }
        event.preventDefault();
        indent(event.shiftKey);
        return;
      }
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        if (typeof form.requestSubmit === 'function') form.requestSubmit();
        // Without requestSubmit (Safari < 16), submit() would skip the submit listeners, and with
        // them encryption (encrypt-form.js): a cancelable submit event runs them first.
        else if (form.reportValidity() && form.dispatchEvent(new Event('submit', { cancelable: true }))) form.submit();
        return;
      }
      if (event.key !== 'Shift') tabLeaves = false;
    });

    const secretPatterns = [
      [/-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----/, 'a private key'],
      [/\bAKIA[0-9A-Z]{16}\b/, 'an AWS access key ID'],
      [/\bgh[pousr]_[A-Za-z0-9]{36,}/, 'a GitHub token'],
      [/\bxox[baprs]-[A-Za-z0-9-]{10,}/, 'a Slack token'],
      [/\bsk_live_[0-9A-Za-z]{16,}/, 'a Stripe secret key'],
      [/\bAIza[0-9A-Za-z_-]{35}/, 'a Google API key'],
      [/\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+/, 'a JSON Web Token'],
    ];

    const confirmSubmit = () => {
      const text = editor.value;
      const found = secretPatterns.filter(([re]) => re.test(text)).map(([, what]) => what);
      if (!found.length) return true;
      const list = found.length === 1 ? found[0] : found.slice(0, -1).join(', ') + ' and ' + found[found.length - 1];
      return window.confirm(
        'This paste looks like it contains ' + list + '.\n\n' +
        'Anyone with the link will be able to read it. Create the paste anyway?',
      );
    };

    let submitting = false;
    form.addEventListener('submit', (event) => {
      if (submitting) {
        event.preventDefault();
        return;
      }
      if (!confirmSubmit()) {
        event.preventDefault();
        editor.focus();
        return;
      }
      if (expires) store.set('expires', expires.value);
      const chosen = visibility.find((radio) => radio.checked);
      if (chosen) store.set('visibility', chosen.value);
      submitting = true;
      if (submit) {
        // Disable after the browser has captured the form data, so the post still goes out.
        setTimeout(() => {
          submit.disabled = true;
          submit.textContent = submit.dataset.busyLabel || 'Creating…';
        }, 0);
      }
      // An encrypted paste never leaves as a form: encrypt-form.js cancels this and sends it.
      // After the lock above, so that a refusal's unlock comes after it.
      if (!form.dispatchEvent(new CustomEvent('redbin:send', { cancelable: true }))) event.preventDefault();
    });

    const unlock = () => {
      submitting = false;
      if (submit) {
        submit.disabled = false;
        submit.textContent = idleLabel;
      }
    };
    // Coming back through the back/forward cache must not leave the form locked.
    window.addEventListener('pageshow', (event) => {
      if (event.persisted) unlock();
    });
    // After the lock's timeout, so the form ends unlocked.
    form.addEventListener('redbin:send-failed', () => setTimeout(unlock, 0));
  }

  const origin = $$('.site-origin');
  for (const el of origin) el.textContent = window.location.origin;

  // ---------- delete ----------

  document.addEventListener('submit', (event) => {
    const target = event.target;
    if (target instanceof HTMLFormElement && target.classList.contains('delete-form')) {
      if (!window.confirm('Delete this paste permanently? This cannot be undone.')) event.preventDefault();
    }
    // The revealed page needs the fragment (an encrypted paste's key): it stays in the page's
    // URL, and browsers never send it.
    if (target instanceof HTMLFormElement && target.classList.contains('burn-form') && window.location.hash) {
      target.action = target.getAttribute('action').split('#')[0] + window.location.hash;
    }
  });

  // ---------- list filter ----------

  // The filter applies with its button, not on change: a keyboard user moving through the
  // options with the arrow keys would otherwise be sent to a new page at every step.
  const filter = $('#filter-form');
  const filterSelect = filter && filter.elements.namedItem('language');
  if (filter && filterSelect) {
    filter.addEventListener('submit', (event) => {
      // "All languages" is the bare list URL rather than ?language=
      if (filterSelect.value === '') {
        event.preventDefault();
        window.location.assign(filter.getAttribute('action'));
      }
    });
  }
})();
