// The edit page of an encrypted paste. The server sends the latest revision's envelope and an
// empty, disabled form; this script decrypts the envelope with the key in the link's fragment
// (and the password, when the paste has one), fills the form, and on Save encrypts the new text
// again under the same key and password (fresh salt and IV), so every link already shared opens
// the new revision. Only the envelope is sent, as PUT /<id>/edit with If-Match; the text, the
// key and the password never leave the browser.
import { checkKey, ciphertextSize, decryptPaste, DecryptError, encryptPaste, formatFragment, linkWithKey, needsPassword, parseFragment } from './shared/pasteCrypto.js';

const $ = (id) => document.getElementById(id);
const form = $('paste-form');
const fieldset = $('edit-fields');
const status = $('decrypt-status');
const passwordForm = $('password-form');
const passwordInput = $('paste-password');

const say = (message, tone) => {
  status.className = tone ? `alert alert-${tone}` : 'alert';
  status.setAttribute('role', tone === 'error' ? 'alert' : 'status');
  status.firstElementChild.textContent = message;
  status.hidden = false;
};

const failed = (err) => {
  say(err instanceof DecryptError ? err.message : `This paste could not be decrypted in this browser (${err && err.message ? err.message : err}).`, 'error');
};

const fields = form && form.elements;
const editor = fields && fields.namedItem('content');
const titleField = fields && fields.namedItem('title');
const language = fields && fields.namedItem('language');

/** Fills the form with the decrypted paste and arms Save; `password` is the one it was opened with. */
const edit = (envelope, key, paste, password) => {
  editor.value = paste.content;
  titleField.value = paste.title;
  language.value = [...language.options].some((o) => o.value === paste.language) ? paste.language : 'auto';
  status.hidden = true;
  passwordForm.hidden = true;
  fieldset.disabled = false;
  // public/app.js counts the bytes on input.
  editor.dispatchEvent(new Event('input', { bubbles: true }));
  editor.focus();

  let alert = null;
  const fail = (message) => {
    if (!alert) {
      alert = document.createElement('div');
      alert.className = 'alert alert-error';
      alert.setAttribute('role', 'alert');
      alert.appendChild(document.createElement('p'));
      form.before(alert);
    }
    alert.firstChild.textContent = `Your edit was not saved. ${message}`;
    // public/app.js unlocks the form.
    form.dispatchEvent(new CustomEvent('redbin:send-failed'));
  };

  const send = async () => {
    const next = { content: editor.value, title: titleField.value.trim(), language: language.value };
    if (!/\S/.test(next.content)) return fail('content is empty');
    const limit = Number(form.dataset.maxBytes);
    const size = ciphertextSize(next);
    if (limit && size > limit) return fail(`Encrypted, it would be ${size} bytes; the limit is ${limit} bytes.`);
    const { envelope: sealed } = await encryptPaste(next, {
      key,
      ...(envelope.kdf ? { password, iterations: envelope.kdf.iterations } : {}),
    });
    const token = fields.namedItem('token');
    let res;
    try {
      res = await fetch(`/${form.dataset.id}/edit`, {
        method: 'PUT',
        credentials: 'same-origin',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          // Two editors never overwrite each other: a stale revision is a 409 naming the latest.
          'if-match': `"${form.dataset.revision}"`,
          // Without the creator's cookie, the token from the form (one secret serves delete and edit).
          ...(token && token.value ? { authorization: `Bearer ${token.value}` } : {}),
        },
        body: JSON.stringify({ envelope: sealed }),
      });
    } catch {
      return fail('The server could not be reached; try again in a moment.');
    }
    const text = await res.text().catch(() => '');
    if (res.status === 200) {
      window.location.assign(`/${form.dataset.id}#${formatFragment(key)}`);
      return;
    }
    let message = text.trim();
    try {
      message = JSON.parse(text).error || message;
    } catch {
      // Not JSON: the error's line of text.
    }
    fail(message || `The server answered ${res.status}.`);
  };

  const start = () => send().catch((err) => fail(`It could not be encrypted in this browser (${err && err.message ? err.message : err}).`));
  // public/app.js asks before a form leaves (secrets warning, then locks it) and cancels this
  // event's default: the form is never posted, this script sends the envelope instead.
  form.addEventListener('redbin:send', (event) => {
    event.preventDefault();
    start();
  });
  // Should app.js not have handled the submit, the text must still never be posted as a form.
  form.addEventListener('submit', (event) => {
    if (event.defaultPrevented) return;
    event.preventDefault();
    start();
  });
};

const askPassword = (envelope, key) => {
  say('This paste is protected with a password. Enter it to decrypt the paste and edit it.');
  passwordForm.hidden = false;
  passwordInput.focus();
  const submit = passwordForm.querySelector('button');
  passwordForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    submit.disabled = true;
    say('Decrypting…');
    try {
      const password = passwordInput.value;
      edit(envelope, key, await decryptPaste(envelope, key, password), password);
    } catch (err) {
      if (err instanceof DecryptError && err.reason === 'wrong-password') {
        say('That password is not the right one for this paste. Try again.', 'error');
        passwordForm.hidden = false;
        passwordInput.select();
      } else {
        failed(err);
      }
    } finally {
      submit.disabled = false;
    }
  });
};

const start = async () => {
  if (!window.crypto || !window.crypto.subtle) {
    say('This paste is encrypted, and this browser can only decrypt it over a secure connection: open the link with https://.', 'error');
    return;
  }
  let envelope;
  try {
    envelope = JSON.parse($('envelope').textContent);
  } catch {
    say("This paste's encrypted data is damaged: it is not JSON.", 'error');
    return;
  }
  const { key } = parseFragment(window.location.hash);
  try {
    const checked = await checkKey(envelope, key);
    if (needsPassword(checked)) {
      askPassword(checked, key);
      return;
    }
    say('Decrypting…');
    edit(checked, key, await decryptPaste(checked, key));
  } catch (err) {
    failed(err);
  }
};

if (form && fieldset && status) {
  // public/app.js has already taken hold of the editor by its name. Without names, the private
  // fields could not be posted even by a submit that bypasses this script (form.submit() in an
  // older browser's Ctrl+Enter): the server would get no text, title or language.
  for (const field of [editor, titleField, language]) field.removeAttribute('name');
  // The page's other links to this paste keep the key, as on its page.
  const { key } = parseFragment(window.location.hash);
  if (key) {
    for (const link of document.querySelectorAll('a[data-keep-key]')) link.href = linkWithKey(link.getAttribute('href'), key);
  }
  start();
}
