// The page of an encrypted paste. Decrypts the envelope in this page with the key in the
// link's fragment (and a password, when the paste has one), then renders the code block as the
// server renders plain pastes: the same code (shared/codeBlock.js), the same highlight.js
// release, the same theme. Nothing decrypted ever leaves the browser. Served under
// /static/m/<hash>/ with the modules it imports (src/pastes/BrowserModules.ts).
import hljs from './hljs/core.min.js';
import { escapeHtml, renderCodeWith } from './shared/codeBlock.js';
import { LANGUAGE_INFO } from './shared/languages.js';
import { formatFragment, linkWithKey, parseFragment } from './shared/pasteCrypto.js';
import { decryptOnPage } from './encrypted-ui.js';

const $ = (id) => document.getElementById(id);

/**
 * Links to this paste's other pages (its history, its revisions, the owner's edit form) carry
 * the key over in their fragment, so those pages can decrypt too: it still never reaches the server.
 */
const keepKey = (key) => {
  if (!key) return;
  const links = document.querySelectorAll('a[data-keep-key], .paste-encrypted .toolbar-dynamic a[href$="/edit"]');
  for (const link of links) link.href = linkWithKey(link.getAttribute('href'), key);
};
keepKey(parseFragment(window.location.hash).key);

const article = $('encrypted-paste');
const status = $('decrypt-status');
const passwordForm = $('password-form');

const countLines = (text) => {
  let lines = text.split('\n').length;
  if (text.endsWith('\n')) lines -= 1;
  return Math.max(lines, 1);
};

const humanSize = (bytes) => {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
};

/** Registers the grammars `language` needs: one, or every one for a paste left on auto. */
const loadGrammars = async (language) => {
  const wanted = LANGUAGE_INFO.filter((l) => l.grammar && (language === 'auto' || l.id === language));
  const modules = await Promise.all(wanted.map((l) => import(`./hljs/languages/${l.grammar}.min.js`)));
  wanted.forEach((l, i) => hljs.registerLanguage(l.id, modules[i].default));
  return wanted.map((l) => l.id);
};

/**
 * Opens (or, with a file name, saves) a document made here. Raw is a bare HTML page of the
 * text: a blob inherits this page's CSP, and Chrome's own text/plain viewer sets an inline style.
 */
const openBlob = (blob, fileName) => {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  if (fileName) link.download = fileName;
  else link.target = '_blank';
  link.rel = 'noopener';
  document.body.appendChild(link);
  link.click();
  link.remove();
  // Long enough for a new tab to have read it.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
};

const show = async (paste, key) => {
  const { id } = article.dataset;
  const info = LANGUAGE_INFO.find((l) => l.id === paste.language);
  const detectable = await loadGrammars(info ? info.id : 'auto');
  const bytes = new TextEncoder().encode(paste.content).length;
  const rendered = renderCodeWith(hljs, detectable, paste.content, info ? info.id : 'auto', {
    highlight: bytes <= Number(article.dataset.highlightMaxBytes),
    detectChars: Number(article.dataset.detectChars),
    maxLines: Number(article.dataset.maxLines),
  });
  const language = LANGUAGE_INFO.find((l) => l.id === rendered.language) || LANGUAGE_INFO[0];
  const lines = countLines(paste.content);

  const heading = $('paste-title');
  if (paste.title) heading.textContent = paste.title;
  else heading.innerHTML = '<span class="untitled">Untitled</span>';
  document.title = `${paste.title || `Untitled ${language.name} paste`} · redbin`;
  $('paste-language').textContent = language.name;
  $('paste-language-item').hidden = false;
  $('paste-size').textContent = humanSize(bytes);
  $('paste-size').title = `${bytes} bytes`;
  $('paste-lines').textContent = `${lines} ${lines === 1 ? 'line' : 'lines'}`;
  $('paste-lines').hidden = false;

  const code = $('code');
  // hljs and codeBlock.js escape the text: this is markup they built, as on the server.
  code.innerHTML = `<pre class="code"><code class="hljs">${rendered.html}</code></pre>`;
  $('code-box').className = `code-box g${Math.min(7, Math.max(2, String(lines).length))}`;
  $('code-box').hidden = false;
  status.hidden = true;
  passwordForm.hidden = true;
  // public/app.js selects the lines the fragment names, after the key.
  code.dispatchEvent(new CustomEvent('redbin:code-ready', { bubbles: true }));

  const ui = window.redbinUi;
  const fileName = `${id}.${language.ext}`;
  const buttons = {
    'decrypted-raw-btn': () => openBlob(new Blob([
      `<!doctype html><html lang="en"><meta charset="utf-8"><title>${escapeHtml(fileName)}</title><pre>${escapeHtml(paste.content)}</pre></html>`,
    ], { type: 'text/html;charset=utf-8' })),
    'decrypted-download-btn': () => openBlob(new Blob([paste.content], { type: 'text/plain;charset=utf-8' }), fileName),
    'decrypted-copy-btn': (button) => ui.copyText(paste.content).then(() => ui.feedback(button, 'Copied!'), () => ui.feedback(button, 'Copy failed')),
    'decrypted-copy-link-btn': (button) => ui.copyText(`${article.dataset.url}#${formatFragment(key)}`)
      .then(() => ui.feedback(button, 'Copied!'), () => ui.feedback(button, 'Copy failed')),
    'decrypted-fork-btn': () => {
      // The form (encrypt-form.js) picks it up: the text never goes to the server unencrypted.
      sessionStorage.setItem('redbin:fork', JSON.stringify({
        from: id, content: paste.content, title: `Fork of ${paste.title || id}`.slice(0, 200), language: language.id,
      }));
      window.location.assign('/');
    },
  };
  for (const [buttonId, action] of Object.entries(buttons)) {
    const button = $(buttonId);
    if (!button) continue;
    button.disabled = false;
    button.addEventListener('click', () => action(button));
  }
};

if (article) {
  decryptOnPage({ passwordPrompt: 'This paste is protected with a password. Enter it to decrypt the paste.', open: show });
}
