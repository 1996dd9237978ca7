// The new-paste form's "Encrypt in my browser" step. When ticked, the text, title and language
// are encrypted here (shared/pasteCrypto.js) and only the envelope is sent, to POST /api/pastes;
// the key goes into the new paste's link after "#", which browsers never send. The checkbox
// and the password have no name: without this script they cannot be used, and a plain form
// post never carries them.
import { ciphertextSize, encryptPaste, formatFragment } from './shared/pasteCrypto.js';
import { formAlert } from './encrypted-ui.js';

const form = document.getElementById('paste-form');
const box = document.getElementById('encrypt');

const setUp = () => {
  const fields = form.elements;
  const editor = fields.namedItem('content');
  const passwordField = document.getElementById('encrypt-password-field');
  const password = document.getElementById('encrypt-password');

  const sync = () => {
    passwordField.hidden = !box.checked;
    password.disabled = !box.checked;
  };
  if (!window.crypto || !window.crypto.subtle) {
    // Browsers give WebCrypto only to HTTPS pages (and localhost): the box stays off.
    box.nextElementSibling.querySelector('.choice-hint').textContent = 'needs a secure connection (https://)';
    return;
  }
  box.disabled = false;
  box.addEventListener('change', sync);

  // A fork of an encrypted paste: its page left the decrypted text here, for this tab only.
  const forked = sessionStorage.getItem('redbin:fork');
  if (forked) {
    sessionStorage.removeItem('redbin:fork');
    try {
      const fork = JSON.parse(forked);
      editor.value = fork.content;
      fields.namedItem('title').value = fork.title;
      fields.namedItem('language').value = fork.language;
      box.checked = true;
      const notice = document.createElement('p');
      notice.className = 'notice';
      notice.textContent = `Forking encrypted paste ${fork.from}: decrypted in this browser, and encrypted again under a new key unless you untick "Encrypt in my browser".`;
      form.before(notice);
      editor.dispatchEvent(new Event('input', { bubbles: true }));
    } catch {
      // A stash this page cannot read: the form stays empty.
    }
  }
  sync();

  const fail = formAlert(form, 'Your paste was not created.');

  const send = async () => {
    const paste = { content: editor.value, title: fields.namedItem('title').value.trim(), language: fields.namedItem('language').value };
    if (!/\S/.test(paste.content)) return fail('content is empty');
    const limit = Number(form.dataset.maxBytes);
    const size = ciphertextSize(paste);
    if (limit && size > limit) return fail(`Encrypted, it would be ${size} bytes; the limit is ${limit} bytes.`);
    const { envelope, key } = await encryptPaste(paste, password.value ? { password: password.value } : {});
    const burn = fields.namedItem('burn');
    let res;
    try {
      res = await fetch('/api/pastes', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ envelope, expires: fields.namedItem('expires').value, burn: Boolean(burn && burn.checked) }),
      });
    } catch {
      return fail('The server could not be reached; try again in a moment.');
    }
    const body = await res.json().catch(() => ({}));
    if (res.status !== 201 || typeof body.id !== 'string') return fail(body.error || `The server answered ${res.status}.`);
    window.location.assign(`/${body.id}#${formatFragment(key)}`);
  };

  // public/app.js asks before a form leaves (secrets warning, then locks the form); cancelling
  // this event keeps the text from being posted, and this script sends the envelope instead.
  form.addEventListener('redbin:send', (event) => {
    if (!box.checked) return;
    event.preventDefault();
    send().catch((err) => fail(`It could not be encrypted in this browser (${err && err.message ? err.message : err}).`));
  });
};

if (form && box) setUp();
